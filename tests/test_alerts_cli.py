"""`newswatch alerts`: the ledger as a person reads it, `alerts retry`, `alerts send`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alert_helpers import add_article, compiled_rules, write_config
from receivers import WebhookReceiver, closed_port
from sqlalchemy import select

from alerts.delivery.dispatcher import Dispatcher
from alerts.delivery.ledger import ledger, retry
from alerts.delivery.outbox import process_new_articles
from newswatch.core.db import make_engine, session_factory
from newswatch.core.models import Delivery

REPO = Path(__file__).resolve().parent.parent
TOKEN = "hunter2-token-77"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def two_subscribers(tmp_path: Path, good: str, bad: str):
    return write_config(
        tmp_path / "config",
        [
            {"name": "ops-desk", "notify": [good, bad], "rules": ["roscosmos"]},
            {"name": "digest-desk", "notify": [good], "rules": ["roscosmos"], "digest": "daily 08:00"},
        ],
        delivery={"max_attempts": 1},
    )


def test_ledger_shows_each_destination_state_and_retry_requeues_the_failed_one(tmp_path, sqlite_url) -> None:
    sessions = session_factory(make_engine(sqlite_url))
    with WebhookReceiver() as hook:
        bad = f"json://ops:{TOKEN}@127.0.0.1:{closed_port()}/in"
        config = two_subscribers(tmp_path, hook.url("json"), bad)
        with sessions() as session:
            add_article(session, "Roscosmos picks a new chief", "Roscosmos has a new head.")
            process_new_articles(session, config, compiled_rules(config))
        Dispatcher(config, sessions).run_once()
        base = ("--config", str(config.directory), "--db", sqlite_url)

        shown = run_cli(*base, "alerts")
        assert shown.returncode == 0, shown.stderr
        out = shown.stdout
        assert "ops-desk  [roscosmos]" in out and "Roscosmos picks a new chief" in out
        assert "sent" in out and "failed" in out and "last error:" in out and "refused" in out
        assert "digest-desk" in out and "waiting for the next digest" in out
        assert TOKEN not in out + shown.stderr

        with sessions() as session:
            assert ledger(session, failed=True, subscriber="digest-desk") == []
            [entry] = ledger(session, failed=True)
            assert entry.subscriber == "ops-desk" and {d.status for d in entry.deliveries} == {
                "sent",
                "failed",
            }

        unknown = run_cli(*base, "alerts", "--subscriber", "nobody")
        assert unknown.returncode == 2
        assert unknown.stderr.strip().splitlines() == [
            "newswatch: error: --subscriber: no subscriber named 'nobody' in the config or the ledger"
        ]

        with sessions() as session:
            alert_id = session.scalar(select(Delivery.alert_id).where(Delivery.status == "failed"))
        again = run_cli(*base, "alerts", "retry", str(alert_id))
        assert again.returncode == 0, again.stderr
        assert "queued for a new attempt" in again.stdout and "already sent" in again.stdout
        with sessions() as session:
            statuses = sorted(session.scalars(select(Delivery.status)))
        assert statuses == ["pending", "sent"]

        missing = run_cli(*base, "alerts", "retry", "999")
        assert missing.returncode == 2
        assert missing.stderr.strip().splitlines() == ["newswatch: error: alerts retry: no alert with id 999"]


def test_retry_resets_attempts_and_never_resends_what_was_sent(tmp_path, db_url, sessions) -> None:
    with WebhookReceiver() as hook:
        config = two_subscribers(tmp_path, hook.url("json"), f"json://127.0.0.1:{closed_port()}/in")
        with sessions() as session:
            add_article(session, "Roscosmos picks a new chief", "Roscosmos has a new head.")
            process_new_articles(session, config, compiled_rules(config))
        Dispatcher(config, sessions).run_once()
        with sessions() as session:
            failed = session.scalars(select(Delivery).where(Delivery.status == "failed")).one()
            result = retry(session, alert_id=failed.alert_id)
            assert [d.id for d in result.requeued] == [failed.id]
            assert len(result.already_sent) == 1
            session.refresh(failed)
            assert failed.status == "pending" and failed.attempts == 0
        fixed = two_subscribers(tmp_path, hook.url("json"), hook.url("json", "/fixed"))
        assert Dispatcher(fixed, sessions).run_once() == 1
        # The fixed destination is a different URL: its old delivery is now "no longer in config".
        with sessions() as session:
            assert session.get(Delivery, failed.id).status == "failed"
        assert len(hook.requests) == 1


def test_alerts_send_matches_and_delivers_in_one_pass(tmp_path, sqlite_url) -> None:
    sessions = session_factory(make_engine(sqlite_url))
    with WebhookReceiver() as hook:
        config = write_config(
            tmp_path / "config", [{"name": "ops-desk", "notify": [hook.url("json")], "rules": ["roscosmos"]}]
        )
        with sessions() as session:
            add_article(session, "Roscosmos statement", "Roscosmos said it will continue.")
        result = run_cli("--config", str(config.directory), "--db", sqlite_url, "alerts", "send")
        assert result.returncode == 0, result.stderr
        assert "matched 1 new article" in result.stdout and "1 sent, 0 pending, 0 failed" in result.stdout
        assert hook.requests[0].json()["title"] == "[roscosmos] Roscosmos statement"


def test_alerts_send_tries_a_delivery_waiting_for_its_retry_and_due_only_does_not(
    tmp_path, sqlite_url
) -> None:
    sessions = session_factory(make_engine(sqlite_url))
    bad = f"json://127.0.0.1:{closed_port()}/in"
    config = write_config(
        tmp_path / "config",
        [{"name": "ops-desk", "notify": [bad], "rules": ["roscosmos"]}],
        delivery={"backoff_initial": "1h", "backoff_max": "2h"},
    )
    with sessions() as session:
        add_article(session, "Roscosmos statement", "Roscosmos said it will continue.")
        process_new_articles(session, config, compiled_rules(config))
    Dispatcher(config, sessions).run_once()  # fails: the next attempt is 30–60 minutes away
    base = ("--config", str(config.directory), "--db", sqlite_url, "alerts", "send")

    waiting = run_cli(*base, "--due-only")
    assert waiting.returncode == 0, waiting.stderr
    assert "attempted 0 deliveries" in waiting.stdout

    now = run_cli(*base)  # `send` means now: tried once more, and counted
    assert now.returncode == 0, now.stderr
    assert "attempted 1 delivery;" in now.stdout and "1 pending" in now.stdout
    with sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
        assert delivery.attempts == 2 and delivery.status == "pending"
