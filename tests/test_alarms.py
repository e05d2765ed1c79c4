"""Source-health alarms: a failing or silent source alerts the admin subscribers once per
episode, through the delivery ledger; recovery is announced; the service raises them itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from alert_helpers import source, write_config
from fixture_site import NewsSite
from receivers import WebhookReceiver
from sqlalchemy import select

from alerts.delivery.dispatcher import Dispatcher
from newswatch.alarms import raise_source_alarms
from newswatch.core.db import session_scope
from newswatch.core.models import Alert, CrawlRun, Source, utcnow

REPO = Path(__file__).resolve().parent.parent


def _subscribers(admin_url: str, desk_url: str) -> list[dict]:
    return [
        {"name": "ops", "notify": [admin_url], "rules": [], "admin": True},
        {"name": "desk", "notify": [desk_url], "rules": ["roscosmos"]},
        {
            "name": "ops-digest",
            "notify": [admin_url],
            "rules": ["artemis"],
            "digest": "daily 08:00",
            "admin": True,
        },
    ]


def test_failing_source_alarms_admins_once_and_recovery_follows(sessions, tmp_path: Path) -> None:
    with WebhookReceiver() as admin, WebhookReceiver() as desk:
        config = write_config(tmp_path / "config", _subscribers(admin.url(), desk.url()))
        now = utcnow()
        with session_scope(sessions) as session:
            row = source(session, "nasa-news")
            row.consecutive_failures = 3
            row.last_error = "HTTP 503 from https://nasa-news.example.org/feed"
            row.last_success_at = now - timedelta(hours=2)
            row.last_poll_at = now
        with sessions() as session:
            assert raise_source_alarms(session, config, now) == 2  # both admins, not the desk
            assert raise_source_alarms(session, config, now + timedelta(minutes=1)) == 0  # same episode
        Dispatcher(config, sessions).run_once()
        assert admin.wait_for(2, timeout=10)
        assert desk.requests == []
        first = admin.successes[0].json()
        assert "nasa-news" in first["title"] and "attention" in first["title"]
        assert "failing: 3 polls in a row" in first["message"] and "HTTP 503" in first["message"]

        with session_scope(sessions) as session:
            row = source(session, "nasa-news")
            row.consecutive_failures = 0
            row.last_success_at = row.last_new_article_at = now + timedelta(minutes=2)
        with sessions() as session:
            assert raise_source_alarms(session, config, now + timedelta(minutes=3)) == 2
            kinds = session.scalars(select(Alert.subject).where(Alert.kind == "health")).all()
        assert sum("recovered" in k for k in kinds) == 2
        Dispatcher(config, sessions).run_once(now + timedelta(minutes=3))
        assert admin.wait_for(4, timeout=10)
        assert "recovered" in admin.successes[-1].json()["title"]


def _failed_polls(session, name: str, times: list) -> None:
    row = source(session, name)
    for started in times:
        session.add(
            CrawlRun(source_id=row.id, started_at=started, finished_at=started, status="failed", errors=1)
        )
    row.consecutive_failures = (row.consecutive_failures or 0) + len(times)
    row.last_poll_at = times[-1]
    row.last_error = "connection failed: https://nasa-news.example.org/feed"


def test_quick_restarts_without_network_raise_no_failure_alarm(sessions, tmp_path: Path) -> None:
    with WebhookReceiver() as admin, WebhookReceiver() as desk:
        config = write_config(tmp_path / "config", _subscribers(admin.url(), desk.url()))
        now = utcnow()
        with session_scope(sessions) as session:
            # Three starts in a minute, each polling at once: three failures, not half an hour of them.
            _failed_polls(session, "nasa-news", [now - timedelta(seconds=s) for s in (50, 25, 0)])
        with sessions() as session:
            assert raise_source_alarms(session, config, now) == 0
        with session_scope(sessions) as session:  # the failures go on for three poll intervals
            _failed_polls(session, "nasa-news", [now + timedelta(minutes=m) for m in (10, 20)])
        with sessions() as session:
            assert raise_source_alarms(session, config, now + timedelta(minutes=20)) == 2


def test_two_health_checks_at_once_raise_one_alarm(sessions, tmp_path: Path) -> None:
    with WebhookReceiver() as admin, WebhookReceiver() as desk:
        config = write_config(tmp_path / "config", _subscribers(admin.url(), desk.url()))
        now = utcnow()
        with session_scope(sessions) as session:
            _failed_polls(session, "nasa-news", [now - timedelta(minutes=m) for m in (40, 30, 20)])
        late = sessions()
        stale = late.scalars(select(Source)).all()  # this check read the sources before the other wrote
        late.commit()
        with sessions() as session:
            assert raise_source_alarms(session, config, now) == 2
        assert raise_source_alarms(late, config, now + timedelta(seconds=1)) == 0
        late.close()
        assert stale
        with sessions() as session:
            keys = session.scalars(select(Alert.alarm_key).where(Alert.kind == "health")).all()
        assert len(set(keys)) == 1, keys


def test_silent_source_alarms(sessions, tmp_path: Path) -> None:
    with WebhookReceiver() as admin, WebhookReceiver() as desk:
        config = write_config(tmp_path / "config", _subscribers(admin.url(), desk.url()))
        now = utcnow()
        with session_scope(sessions) as session:
            row = source(session, "tass-en")
            row.last_success_at = now - timedelta(minutes=5)
            row.last_new_article_at = now - timedelta(days=3)  # default silent_after: 48h
        with sessions() as session:
            assert raise_source_alarms(session, config, now) == 2
            message = session.scalars(select(Alert.message).where(Alert.kind == "health")).first()
        assert "silent: no new article for 3d" in message


def test_service_alarms_admin_when_a_source_keeps_failing(tmp_path: Path) -> None:
    site = NewsSite([]).start()
    with WebhookReceiver() as admin:
        config_dir = tmp_path / "config"
        config_dir.mkdir()
        (config_dir / "sources.yaml").write_text(
            f"sources:\n  - name: broken\n    feed: {site.url}/no-such-feed.xml\n    every: 1s\n    allow_private: true\n"
        )
        (config_dir / "rules.yaml").write_text("rules:\n  - name: any\n    query: Roscosmos\n")
        (config_dir / "subscribers.yaml").write_text(
            f'subscribers:\n  - name: ops\n    notify: ["{admin.url()}"]\n    admin: true\n'
        )
        (config_dir / "settings.yaml").write_text("health:\n  failures_alarm: 2\n")
        db = f"sqlite:///{tmp_path / 'nw.db'}"
        log = open(tmp_path / "service.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", db, "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            arrived = admin.wait_for(1, timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            site.stop()
        output = (tmp_path / "service.log").read_text()
        assert arrived, output[-4000:]
        assert "first round of polls: 0 of 1 sources ok, 1 failing (broken: HTTP 404" in output
        assert output.count("first round of polls") == 1
        message = admin.successes[0].json()
        assert "broken" in message["title"]
        assert "polls in a row" in message["message"]
        time.sleep(0.5)
        assert len(admin.requests) == 1  # one alarm per episode, however many failed polls
        status = subprocess.run(
            [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", db, "status"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert "failing" in status.stdout
