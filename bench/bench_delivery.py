"""Delivery figures on loopback (SQLite): outbox throughput, send latency per transport,
dispatcher throughput, and the time a flaky endpoint takes to get its alert.

    python -m bench delivery

Uses the real matcher, the real dispatcher and real receivers (tests/receivers.py).
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARTICLES = 2000
WEBHOOK_SENDS = 300
SMTP_SENDS = 100


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {p(0.50):.1f} ms, p95 {p(0.95):.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def main() -> None:
    logging.getLogger("alerts").setLevel(logging.ERROR)  # the flaky part logs its retries
    sys.path.insert(0, str(REPO / "tests"))
    from alert_helpers import add_article, compiled_rules, write_config
    from receivers import SmtpReceiver, WebhookReceiver
    from sqlalchemy import func, select

    from alerts.delivery.channels import send_with_apprise
    from alerts.delivery.dispatcher import Dispatcher
    from alerts.delivery.outbox import process_new_articles
    from alerts.delivery.render import Renderer
    from newswatch.core.db import make_engine, session_factory, upgrade
    from newswatch.core.models import Alert, Delivery

    with tempfile.TemporaryDirectory() as tmp, WebhookReceiver() as hook, SmtpReceiver() as smtp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'bench.db'}"
        upgrade(url)
        sessions = session_factory(make_engine(url))
        config = write_config(
            root / "config",
            [
                {
                    "name": "ops",
                    "notify": [hook.url("json", "/a"), hook.url("json", "/b")],
                    "rules": ["roscosmos"],
                },
                {"name": "moon", "notify": [hook.url("json", "/c")], "rules": ["artemis", "iss-deorbit"]},
                {
                    "name": "daily",
                    "notify": [hook.url("json", "/d")],
                    "rules": ["roscosmos"],
                    "digest": "daily 08:00",
                },
            ],
        )
        compiled = compiled_rules(config)

        # 1. Outbox: match + write alerts/deliveries in one transaction per batch.
        with sessions() as session:
            for n in range(ARTICLES):
                topic = ("Roscosmos", "Artemis", "Mars rover")[n % 3]
                add_article(
                    session,
                    f"{topic} update {n}",
                    f"{topic} officials said the ISS plans are on track. " * 20,
                )
        started = time.perf_counter()
        with sessions() as session:
            matched = process_new_articles(session, config, compiled)
        elapsed = time.perf_counter() - started
        with sessions() as session:
            alerts = session.scalar(select(func.count()).select_from(Alert))
            deliveries = session.scalar(select(func.count()).select_from(Delivery))
        print(
            f"outbox: {matched} articles in {elapsed:.2f}s = {matched / elapsed:.0f} articles/s "
            f"({alerts} alerts, {deliveries} deliveries written)"
        )

        # 2. Send latency per transport (one Apprise send, loopback, rendering excluded).
        item_sessions = sessions()
        from alerts.delivery.ledger import alert_item

        item = alert_item(item_sessions, 1)
        item_sessions.close()
        renderer = Renderer()
        for name, target, fmt, count in (
            ("json://", hook.url("json", "/latency"), "text", WEBHOOK_SENDS),
            ("form://", hook.url("form", "/latency"), "text", WEBHOOK_SENDS),
            ("mailto:// (aiosmtpd)", smtp.url(), "html", SMTP_SENDS),
        ):
            message = renderer.render_alert(item, fmt)
            times = []
            for _ in range(count):
                outcome = send_with_apprise(target, message, timeout=10)
                assert outcome.ok, outcome.error
                times.append(outcome.seconds)
            print(f"send {name:<21} {count} sends: {_percentiles(times)}")

        # 3. Dispatcher throughput: claim (committed) → render → send → settle, one at a time.
        dispatcher = Dispatcher(config, sessions)
        with sessions() as session:
            pending = session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
            )
        limit = min(pending, 1000)
        started = time.perf_counter()
        done = dispatcher.run_once(limit=limit)
        elapsed = time.perf_counter() - started
        print(
            f"dispatcher: {done} deliveries in {elapsed:.2f}s = {done / elapsed:.0f} deliveries/s (json:// on loopback)"
        )

        # 4. A flaky endpoint (500 four times, then 200) with backoff 0.05s..0.2s.
        with WebhookReceiver(fail_first=4) as flaky:
            flaky_config = write_config(
                root / "flaky",
                [{"name": "flaky", "notify": [flaky.url("json")], "rules": ["roscosmos"]}],
                delivery={"max_attempts": 8, "backoff_initial": "0.05s", "backoff_max": "0.2s"},
            )
            flaky_url = f"sqlite:///{root / 'flaky.db'}"
            upgrade(flaky_url)
            flaky_sessions = session_factory(make_engine(flaky_url))
            with flaky_sessions() as session:
                add_article(session, "Roscosmos flaky", "Roscosmos said so.")
                process_new_articles(session, flaky_config, compiled_rules(flaky_config))
            flaky_dispatcher = Dispatcher(flaky_config, flaky_sessions)
            started = time.perf_counter()
            deadline = started + 30
            while time.perf_counter() < deadline and len(flaky.successes) < 1:
                flaky_dispatcher.run_once()
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            with flaky_sessions() as session:
                delivery = session.scalars(select(Delivery)).one()
            print(
                f"flaky endpoint (500 x4, backoff 0.05s..0.2s): {delivery.status} after {delivery.attempts} attempts "
                f"in {elapsed:.2f}s; requests seen {len(flaky.requests)}, successes {len(flaky.successes)}"
            )
        print("(one run; SQLite file database; loopback receivers; machine shared with other work)")
