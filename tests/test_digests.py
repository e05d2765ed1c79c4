"""Digests: alerts wait for the subscriber's due time, then go out as one message; a digest
missed while the service was down goes out on start; never two digests for one due time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alert_helpers import add_article, compiled_rules, write_config
from receivers import WebhookReceiver
from sqlalchemy import func, select

from alerts.delivery.digests import close_due_digests, next_digest_due
from alerts.delivery.dispatcher import Dispatcher
from alerts.delivery.outbox import process_new_articles
from newswatch.core.models import Alert, Delivery, Digest

HOUR = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)  # a due time of "every 1h" (in the past: due at once)


def digest_config(tmp_path: Path, notify: list[str], digest: str = "every 1h"):
    return write_config(
        tmp_path / "config",
        [{"name": "hourly", "notify": notify, "rules": ["roscosmos", "artemis"], "digest": digest}],
    )


def alert_at(sessions, config, when: datetime, title: str, text: str = "Roscosmos said so.") -> None:
    with sessions() as session:
        add_article(session, title, text, published_at=when)
        process_new_articles(session, config, compiled_rules(config), now=when)


def count(sessions, model, *where) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_alerts_wait_for_the_due_time_then_go_out_as_one_message(tmp_path, db_url, sessions) -> None:
    with WebhookReceiver() as hook:
        config = digest_config(tmp_path, [hook.url("json")])
        alert_at(sessions, config, HOUR - timedelta(minutes=50), "Roscosmos budget approved")
        alert_at(
            sessions, config, HOUR - timedelta(minutes=10), "Artemis II crew news", "Artemis crew named."
        )
        with sessions() as session:
            assert close_due_digests(session, config, HOUR - timedelta(minutes=5)) == 0
        assert Dispatcher(config, sessions).run_once() == 0  # nothing sent before the due time

        with sessions() as session:
            assert close_due_digests(session, config, HOUR + timedelta(minutes=1)) == 1
            assert close_due_digests(session, config, HOUR + timedelta(minutes=2)) == 0
            digest = session.scalars(select(Digest)).one()
            assert digest.due_at == HOUR and digest.subscriber == "hourly"
        assert count(sessions, Alert, Alert.digest_id == digest.id) == 2
        assert count(sessions, Delivery, Delivery.digest_id == digest.id) == 1

        assert Dispatcher(config, sessions).run_once() == 1
        [request] = hook.requests
        payload = request.json()
        assert payload["title"] == "newswatch digest: 2 stories (artemis, roscosmos)"
        message = payload["message"]
        assert message.index("Artemis II crew news") < message.index(
            "Roscosmos budget approved"
        )  # newest first


def test_alert_after_the_due_time_waits_for_the_next_digest(tmp_path, sessions) -> None:
    config = digest_config(tmp_path, ["json://127.0.0.1:9/x"])
    alert_at(sessions, config, HOUR - timedelta(minutes=30), "Roscosmos one")
    alert_at(sessions, config, HOUR + timedelta(minutes=3), "Roscosmos two")
    with sessions() as session:
        assert close_due_digests(session, config, HOUR + timedelta(minutes=5)) == 1
    assert count(sessions, Alert, Alert.digest_id.is_(None)) == 1
    with sessions() as session:
        assert close_due_digests(session, config, HOUR + timedelta(hours=1, seconds=1)) == 1
    assert count(sessions, Alert, Alert.digest_id.is_(None)) == 0
    assert count(sessions, Digest) == 2


def test_digests_missed_while_down_go_out_once_on_start(tmp_path, sessions) -> None:
    config = digest_config(tmp_path, ["json://127.0.0.1:9/x"], digest="daily 08:00 Europe/Moscow")
    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    for day in range(3):
        alert_at(sessions, config, start + timedelta(days=day), f"Roscosmos day {day}")
    back = start + timedelta(days=3, hours=-2)  # 2026-05-04 10:00 UTC, 13:00 in Moscow
    with sessions() as session:
        assert close_due_digests(session, config, back) == 1
        digest = session.scalars(select(Digest)).one()
    assert digest.due_at == datetime(2026, 5, 4, 5, 0, tzinfo=UTC)  # 08:00 Moscow that morning
    assert count(sessions, Alert, Alert.digest_id == digest.id) == 3


def test_nothing_waiting_makes_no_digest(tmp_path, sessions) -> None:
    config = digest_config(tmp_path, ["json://127.0.0.1:9/x"])
    with sessions() as session:
        assert close_due_digests(session, config, HOUR) == 0
    assert count(sessions, Digest) == 0


def test_two_processes_closing_the_same_digest_make_one(tmp_path, db_url, sessions) -> None:
    config = digest_config(tmp_path, ["json://127.0.0.1:9/x", "json://127.0.0.1:9/y"])
    for n in range(5):
        alert_at(sessions, config, HOUR - timedelta(minutes=40 - n), f"Roscosmos item {n}")
    created: list[int] = []
    start = threading.Barrier(2, timeout=30)

    def close() -> None:
        start.wait()
        with sessions() as session:
            created.append(close_due_digests(session, config, HOUR + timedelta(seconds=5)))

    threads = [threading.Thread(target=close) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(created) == [0, 1]
    assert count(sessions, Digest) == 1
    assert count(sessions, Alert, Alert.digest_id.is_(None)) == 0
    assert count(sessions, Delivery) == 2


def test_subscriber_switched_to_instant_gets_waiting_alerts_on_start(tmp_path, sessions) -> None:
    with WebhookReceiver() as hook:
        config = digest_config(tmp_path, [hook.url("json")], digest="daily 08:00")
        alert_at(sessions, config, HOUR, "Roscosmos waiting")
        instant = write_config(
            tmp_path / "config", [{"name": "hourly", "notify": [hook.url("json")], "rules": ["roscosmos"]}]
        )
        with sessions() as session:
            assert close_due_digests(session, instant, HOUR + timedelta(minutes=1)) == 0
            assert close_due_digests(session, instant, HOUR + timedelta(minutes=1), on_start=True) == 1
        Dispatcher(instant, sessions).run_once()
        assert "Roscosmos waiting" in hook.requests[0].json()["message"]


def test_next_digest_due_is_the_earliest_upcoming_one(tmp_path) -> None:
    config = write_config(
        tmp_path / "config",
        [
            {"name": "a", "notify": ["json://127.0.0.1:9/x"], "rules": ["roscosmos"], "digest": "every 1h"},
            {"name": "b", "notify": ["json://127.0.0.1:9/x"], "rules": ["roscosmos"], "digest": "every 20s"},
            {"name": "c", "notify": ["json://127.0.0.1:9/x"], "rules": ["roscosmos"]},
        ],
    )
    assert next_digest_due(config, HOUR + timedelta(seconds=5)) == HOUR + timedelta(seconds=20)
