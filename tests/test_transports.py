"""Delivery through real transports: SMTP (aiosmtpd) for mailto://, HTTP for json:// and
form://, the local Mosquitto broker for mqtt://, and console:// of the default config."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alert_helpers import add_article, compiled_rules, write_config
from receivers import MqttListener, SmtpReceiver, WebhookReceiver, mqtt_broker_available
from sqlalchemy import select

from alerts.delivery.dispatcher import Dispatcher
from alerts.delivery.outbox import process_new_articles
from newswatch.app import load_checked_config
from newswatch.core.models import Delivery

REPO = Path(__file__).resolve().parent.parent
TITLE = "Roscosmos and NASA agree on ISS deorbit timeline"
TEXT = "Officials said Roscosmos would help deorbit the ISS in 2030, after years of talks."


def deliver(tmp_path: Path, sessions, subscriber: dict) -> list[Delivery]:
    """Write the config, store a matching article, run the outbox and one dispatcher pass."""
    config = write_config(
        tmp_path / "config", [{"name": "desk", "rules": ["roscosmos", "iss-deorbit"], **subscriber}]
    )
    with sessions() as session:
        add_article(session, TITLE, TEXT, source_name="tass-en", url="https://tass.com/science/2030-deorbit")
        process_new_articles(session, config, compiled_rules(config))
    Dispatcher(config, sessions).run_once()
    with sessions() as session:
        return list(session.scalars(select(Delivery)))


def test_email_arrives_over_smtp_with_subject_and_highlighted_html(tmp_path, db_url, sessions) -> None:
    with SmtpReceiver() as smtp:
        [delivery] = deliver(tmp_path, sessions, {"notify": [smtp.url(to="desk@example.org")]})
        assert smtp.wait_for(1, timeout=10)
        assert delivery.status == "sent", delivery.last_error
        [mail] = smtp.messages
        assert mail.rcpt_tos == ["desk@example.org"] and mail.login == "alerts"
        assert mail.subject == f"[roscosmos, iss-deorbit] {TITLE}"
        html = mail.text()
        assert "<b>Roscosmos</b>" in html and "<b>deorbit</b>" in html
        assert "https://tass.com/science/2030-deorbit" in html and "tass-en" in html
        assert smtp.password not in delivery.destination


def test_json_webhook_gets_title_and_text_body(tmp_path, sessions) -> None:
    with WebhookReceiver() as hook:
        [delivery] = deliver(tmp_path, sessions, {"notify": [hook.url("json")]})
        assert delivery.status == "sent", delivery.last_error
        payload = hook.requests[0].json()
        assert payload["title"] == f"[roscosmos, iss-deorbit] {TITLE}"
        message = payload["message"]
        assert "Source: tass-en" in message and "URL: https://tass.com/science/2030-deorbit" in message
        assert "«Roscosmos»" in message and "**" not in message and "Rules: roscosmos, iss-deorbit" in message


def test_form_webhook_gets_form_fields(tmp_path, sessions) -> None:
    with WebhookReceiver() as hook:
        [delivery] = deliver(tmp_path, sessions, {"notify": [hook.url("form", "/form")]})
        assert delivery.status == "sent", delivery.last_error
        request = hook.requests[0]
        assert request.path == "/form"
        fields = request.form()
        assert fields["title"].startswith("[roscosmos, iss-deorbit]")
        assert "tass.com/science/2030-deorbit" in fields["message"]


def test_subscriber_format_overrides_the_service_default(tmp_path, sessions) -> None:
    with WebhookReceiver() as hook:
        deliver(tmp_path, sessions, {"notify": [hook.url("json")], "format": "html"})
        assert "<b>Roscosmos</b>" in hook.requests[0].json()["message"]


def test_mqtt_message_reaches_the_local_broker(tmp_path, sessions) -> None:
    if not mqtt_broker_available():
        pytest.skip("no MQTT broker listening on 127.0.0.1:1883 (CI starts Mosquitto; locally: mosquitto -d)")
    topic = f"newswatch/test/{uuid.uuid4().hex[:8]}"
    with MqttListener(topic) as listener:
        [delivery] = deliver(tmp_path, sessions, {"notify": [f"mqtt://127.0.0.1:1883/{topic}"]})
        assert delivery.status == "sent", delivery.last_error
        assert listener.wait_for(1, timeout=10)
        [payload] = listener.messages
        assert TITLE in payload and "https://tass.com/science/2030-deorbit" in payload


def test_default_config_prints_readable_alerts_on_the_console(config_dir, db_url, sessions) -> None:
    """The bundled config's `terminal` subscriber (console://): what `make run` shows."""
    config = load_checked_config(config_dir)
    assert config.subscriber("terminal").notify == ["console://"]
    with sessions() as session:
        add_article(session, TITLE, TEXT, source_name="tass-en", url="https://tass.com/science/2030-deorbit")
        process_new_articles(session, config, compiled_rules(config))
    script = (
        "import sys\n"
        "from alerts.delivery.dispatcher import Dispatcher\n"
        "from newswatch.app import load_checked_config\n"
        "from newswatch.core.db import make_engine, session_factory\n"
        "Dispatcher(load_checked_config(sys.argv[1]), session_factory(make_engine(sys.argv[2]))).run_once()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(config_dir), db_url],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"] {TITLE}" in out and "roscosmos" in out
    assert "Source: tass-en" in out and "URL: https://tass.com/science/2030-deorbit" in out
    assert "«Roscosmos»" in out and "**" not in out
    assert "<" not in out.replace("<https://", "")  # plain text, no HTML tags


def test_digest_arrives_as_one_email_listing_the_stories(tmp_path, sessions) -> None:
    from datetime import UTC, datetime, timedelta

    from alerts.delivery.digests import close_due_digests

    due = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    with SmtpReceiver() as smtp:
        config = write_config(
            tmp_path / "config",
            [
                {
                    "name": "morning",
                    "notify": [smtp.url()],
                    "rules": ["roscosmos", "artemis"],
                    "digest": "daily 08:00",
                }
            ],
        )
        with sessions() as session:
            for minutes, title in ((90, "Roscosmos budget"), (30, "Artemis crew named")):
                add_article(
                    session, title, f"{title.split()[0]} news.", published_at=due - timedelta(minutes=minutes)
                )
                process_new_articles(
                    session, config, compiled_rules(config), now=due - timedelta(minutes=minutes)
                )
            assert close_due_digests(session, config, due + timedelta(minutes=1)) == 1
        Dispatcher(config, sessions).run_once()
        assert smtp.wait_for(1, timeout=10)
        [mail] = smtp.messages
        assert mail.subject == "newswatch digest: 2 stories (artemis, roscosmos)"
        html = mail.text()
        assert html.index("Artemis crew named") < html.index("Roscosmos budget")
