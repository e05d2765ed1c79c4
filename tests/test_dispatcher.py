"""The dispatcher against real HTTP endpoints on loopback: retries with backoff, exactly one
delivery to a flaky endpoint, failures kept visible, leases, several dispatchers, kill -9."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from alert_helpers import add_article, compiled_rules, write_config
from receivers import WebhookReceiver, closed_port
from sqlalchemy import select

from alerts.delivery.dispatcher import Dispatcher, backoff_delay
from alerts.delivery.outbox import process_new_articles
from newswatch.core.models import Delivery, utcnow

REPO = Path(__file__).resolve().parent.parent
TOKEN = "tok-9f8e7d6c5b4a"
# A dispatcher process: what the service's worker thread does, alone in a process we can kill.
DISPATCH_ONCE = """
import sys
from alerts.delivery.dispatcher import Dispatcher
from newswatch.app import load_checked_config
from newswatch.core.db import make_engine, session_factory
Dispatcher(load_checked_config(sys.argv[1]), session_factory(make_engine(sys.argv[2]))).run_once()
"""


def ops_config(tmp_path: Path, notify: list[str], **delivery):
    return write_config(
        tmp_path / "config",
        [{"name": "ops-desk", "notify": notify, "rules": ["roscosmos", "iss-deorbit"]}],
        delivery=delivery or None,
    )


def queue_alert(sessions, config, title: str = "Roscosmos on ISS deorbit") -> None:
    with sessions() as session:
        add_article(session, title, "Roscosmos will deorbit the ISS.", source_name="tass-en")
        process_new_articles(session, config, compiled_rules(config))


def deliveries(sessions) -> list[Delivery]:
    with sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def drive(dispatcher: Dispatcher, done: Callable[[], bool], seconds: float = 20.0) -> None:
    """Run the dispatcher until `done()` (bounded in time), like the service's loop does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        dispatcher.run_once()
        if done():
            return
        time.sleep(0.02)
    raise AssertionError("dispatcher did not finish in time")


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )


def test_endpoint_failing_four_times_gets_the_alert_exactly_once(tmp_path, db_url, sessions) -> None:
    with WebhookReceiver(fail_first=4) as hook:
        config = ops_config(tmp_path, [hook.url("json")], max_attempts=6)
        queue_alert(sessions, config)
        dispatcher = Dispatcher(config, sessions)
        drive(dispatcher, lambda: deliveries(sessions)[0].status != "pending")
        [delivery] = deliveries(sessions)
        assert delivery.status == "sent" and delivery.attempts == 5 and delivery.last_error is None
        assert [r.status for r in hook.requests] == [500, 500, 500, 500, 200]
        assert len(hook.successes) == 1
        payload = hook.successes[0].json()
        assert payload["title"].startswith("[roscosmos, iss-deorbit] Roscosmos on ISS deorbit")
        # Nothing more goes out later.
        dispatcher.run_once(now=utcnow() + timedelta(days=1))
        assert len(hook.requests) == 5


def test_failed_attempt_waits_for_its_backoff(tmp_path, sessions) -> None:
    with WebhookReceiver(fail_first=1) as hook:
        config = ops_config(tmp_path, [hook.url("json")], backoff_initial="10m", backoff_max="1h")
        queue_alert(sessions, config)
        dispatcher = Dispatcher(config, sessions)
        now = utcnow()
        assert dispatcher.run_once(now=now) == 1
        [delivery] = deliveries(sessions)
        assert delivery.status == "pending" and delivery.attempts == 1
        assert "500" in delivery.last_error
        wait = delivery.next_attempt_at - now
        assert timedelta(minutes=5) <= wait <= timedelta(minutes=10)
        assert dispatcher.run_once(now=now + timedelta(minutes=4)) == 0
        assert dispatcher.run_once(now=now + timedelta(minutes=11)) == 1
        assert deliveries(sessions)[0].status == "sent"


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(5)
    initial, cap = timedelta(seconds=30), timedelta(hours=1)
    for attempts, full in [(1, 30), (2, 60), (3, 120), (5, 480), (8, 3600), (30, 3600)]:
        for _ in range(20):
            delay = backoff_delay(attempts, initial, cap, rng).total_seconds()
            assert full * 0.5 <= delay <= full


def test_unreachable_endpoint_ends_failed_with_its_error_visible(tmp_path, db_url, sessions) -> None:
    url = f"json://user:{TOKEN}@127.0.0.1:{closed_port()}/hook"
    config = ops_config(tmp_path, [url], max_attempts=3)
    queue_alert(sessions, config)
    drive(Dispatcher(config, sessions), lambda: deliveries(sessions)[0].status != "pending")
    [delivery] = deliveries(sessions)
    assert delivery.status == "failed" and delivery.attempts == 3
    assert "Connection" in delivery.last_error and "refused" in delivery.last_error
    assert TOKEN not in delivery.last_error and TOKEN not in delivery.destination

    result = run_cli("--config", str(config.directory), "--db", db_url, "alerts", "--failed")
    assert result.returncode == 0, result.stderr
    assert "failed" in result.stdout and "3 attempts" in result.stdout
    assert "refused" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_secrets_never_reach_the_log(tmp_path, sessions, caplog) -> None:
    url = f"mailto://ops:{TOKEN}@127.0.0.1:{closed_port()}?mode=insecure&from=nw@example.org&to=o@example.org"
    config = ops_config(tmp_path, [url], max_attempts=1)
    queue_alert(sessions, config)
    with caplog.at_level(logging.DEBUG):
        Dispatcher(config, sessions).run_once()
    [delivery] = deliveries(sessions)
    assert delivery.status == "failed" and "refused" in delivery.last_error
    assert TOKEN not in caplog.text and TOKEN not in delivery.last_error
    assert "delivery failed for good" in caplog.text


def test_destination_removed_from_config_fails_with_a_clear_error(tmp_path, sessions) -> None:
    with WebhookReceiver() as hook:
        config = ops_config(tmp_path, [hook.url("json", "/old")])
        queue_alert(sessions, config)
        changed = ops_config(tmp_path, [hook.url("json", "/new")])
        Dispatcher(changed, sessions).run_once()
        [delivery] = deliveries(sessions)
        assert delivery.status == "failed"
        assert "no longer in subscribers.yaml" in delivery.last_error and "ops-desk" in delivery.last_error
        assert hook.requests == []


def test_each_destination_has_its_own_status(tmp_path, sessions) -> None:
    with WebhookReceiver() as good:
        config = ops_config(
            tmp_path, [good.url("json"), f"json://127.0.0.1:{closed_port()}/x"], max_attempts=1
        )
        queue_alert(sessions, config)
        Dispatcher(config, sessions).run_once()
        assert sorted(d.status for d in deliveries(sessions)) == ["failed", "sent"]
        assert len(good.successes) == 1


def test_live_lease_keeps_other_dispatchers_away_until_it_expires(tmp_path, db_url, sessions) -> None:
    """A dispatcher that claimed a delivery and died: nobody sends it until the lease runs out."""
    with WebhookReceiver() as hook:
        config = ops_config(tmp_path, [hook.url("json")], lease="2m", timeout="5s")
        queue_alert(sessions, config)
        now = utcnow()
        crashed = Dispatcher(config, sessions, owner="crashed")
        assert crashed._claim(now) is not None  # claimed and committed, then the process "died"
        other = Dispatcher(config, sessions, owner="other")
        assert other.run_once(now=now + timedelta(minutes=1)) == 0
        assert other.run_once(now=now + timedelta(minutes=3)) == 1
        [delivery] = deliveries(sessions)
        assert delivery.status == "sent" and delivery.lease_owner is None
        assert len(hook.successes) == 1


def test_parallel_dispatchers_send_every_delivery_once(tmp_path, db_url, sessions) -> None:
    with WebhookReceiver(delay=0.01) as hook:
        config = ops_config(tmp_path, [hook.url("json")])
        for n in range(20):
            queue_alert(sessions, config, title=f"Roscosmos update number {n}")
        errors: list[BaseException] = []
        start = threading.Barrier(3, timeout=30)

        def work(owner: str) -> None:
            try:
                start.wait()
                Dispatcher(config, sessions, owner=owner).run_once(limit=100)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(f"d{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        titles = [r.json()["title"] for r in hook.requests]
        assert len(titles) == 20 and len(set(titles)) == 20
        assert all(d.status == "sent" and d.attempts == 1 for d in deliveries(sessions))


def test_dispatcher_killed_mid_send_resends_after_restart(tmp_path, db_url, sessions) -> None:
    """SIGKILL while the endpoint is still answering: the claim is committed, the result is
    not; after the lease runs out the next dispatcher sends it again (at-least-once)."""
    with WebhookReceiver(delay=30) as hook:
        config = ops_config(tmp_path, [hook.url("json")], timeout="20s", lease="1m")
        queue_alert(sessions, config)
        process = subprocess.Popen(
            [sys.executable, "-c", DISPATCH_ONCE, str(config.directory), db_url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            assert hook.wait_for_arrival(1, timeout=60), (
                process.stderr.read1(4000) if process.poll() else "no request"
            )
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        [delivery] = deliveries(sessions)
        assert delivery.status == "pending" and delivery.lease_owner is not None and delivery.attempts == 0

        hook.delay = 0
        restarted = Dispatcher(config, sessions)
        assert restarted.run_once() == 0  # the dead process's lease still stands
        assert restarted.run_once(now=delivery.lease_until + timedelta(seconds=1)) == 1
        [delivery] = deliveries(sessions)
        assert delivery.status == "sent" and delivery.attempts == 1
        assert hook.wait_for(2, timeout=10)
        first, again = (json.loads(r.body) for r in hook.requests)
        assert first == again and first["title"].startswith("[roscosmos, iss-deorbit]")


def test_slow_endpoint_is_cut_off_by_the_send_timeout(tmp_path, sessions) -> None:
    with WebhookReceiver(delay=10) as hook:
        config = ops_config(tmp_path, [hook.url("json")], timeout="1s", max_attempts=1)
        queue_alert(sessions, config)
        started = time.monotonic()
        Dispatcher(config, sessions).run_once()
        elapsed = time.monotonic() - started
        hook.delay = 0  # let the receiver's thread go
        [delivery] = deliveries(sessions)
        assert delivery.status == "failed" and "timed out" in delivery.last_error.lower()
        assert elapsed < 5


def test_broken_user_template_still_delivers_and_reports_why(tmp_path, sessions) -> None:
    """A template that tries to reach Python internals is refused by the sandbox; the alert
    goes out with the built-in template and the ledger says what was wrong."""
    with WebhookReceiver() as hook:
        config = write_config(
            tmp_path / "config",
            [
                {
                    "name": "ops-desk",
                    "notify": [hook.url("json")],
                    "rules": ["roscosmos"],
                    "template": "evil.j2",
                }
            ],
            files={"evil.j2": "{{ cycler.__init__.__globals__.os.popen('touch PWNED').read() }}"},
        )
        queue_alert(sessions, config)
        Dispatcher(config, sessions).run_once()
        [delivery] = deliveries(sessions)
        assert delivery.status == "sent"
        assert "evil.j2" in delivery.last_error and "sandbox" in delivery.last_error
        assert "Source: tass-en" in hook.requests[0].json()["message"]
        assert not (tmp_path / "PWNED").exists() and not (REPO / "PWNED").exists()
