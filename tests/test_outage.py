"""The service through a database outage: one line when the database goes away and one when
it is back (no traceback per job), polls that cannot be recorded fetch nothing, and what was
published meanwhile alerts once when the database returns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fixture_site import NewsSite
from receivers import WebhookReceiver, free_port, wait_until
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from newswatch.demo.site import DemoArticle

REPO = Path(__file__).resolve().parent.parent

ARTICLE = DemoArticle(
    slug="outage-roscosmos",
    title="Roscosmos publishes a statement while the database is away",
    paragraphs=["Roscosmos said the freighter is ready for its flight next month, officials confirmed."] * 3,
    published=datetime.now(UTC).replace(microsecond=0),
)


def test_a_database_outage_is_two_log_lines_and_loses_nothing(tmp_path: Path, postgres_url: str) -> None:
    database = make_url(postgres_url).database
    admin = create_engine(make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT")

    def allow(allowed: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
            if not allowed:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
                    {"db": database},
                )

    site = NewsSite([]).start()
    log_path = tmp_path / "service.log"
    with WebhookReceiver() as desk:
        config = tmp_path / "config"
        config.mkdir()
        (config / "sources.yaml").write_text(
            f"sources:\n  - name: wire\n    feed: {site.url}/feed.xml\n    every: 1s\n    allow_private: true\n"
        )
        (config / "rules.yaml").write_text("rules:\n  - name: roscosmos\n    query: Roscosmos\n")
        (config / "subscribers.yaml").write_text(
            f'subscribers:\n  - name: desk\n    notify: ["{desk.url()}"]\n    rules: [roscosmos]\n'
        )
        metrics = free_port()
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "newswatch", "--config", str(config), "--db", postgres_url),
                *("run", "--no-web", "--metrics-port", str(metrics)),
            ],
            stdout=open(log_path, "w"),
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert wait_until(lambda: site.hits("/feed.xml") >= 2, 60), log_path.read_text()[-3000:]
            try:
                allow(False)
                ARTICLE.published = datetime.now(UTC).replace(microsecond=0)
                site.publish(ARTICLE)
                assert wait_until(lambda: "database unavailable" in log_path.read_text(), 30)
                fetched_while_down = site.hits(ARTICLE.path)
                time.sleep(4)  # several polls, matching passes and dispatcher passes
                assert site.hits(ARTICLE.path) == fetched_while_down == 0
                health = httpx.get(f"http://127.0.0.1:{metrics}/healthz", timeout=10)
                assert (health.status_code, health.text) == (503, "database unreachable\n")
            finally:
                allow(True)
            assert desk.wait_for(1, timeout=60), log_path.read_text()[-3000:]
            assert wait_until(lambda: "database available again" in log_path.read_text(), 30)
            time.sleep(2)  # room for a duplicate
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
            site.stop()
            admin.dispose()
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert output.count("database unavailable") == 1 and output.count("database available again") == 1
    assert [r.json()["title"] for r in desk.successes] == [f"[roscosmos] {ARTICLE.title}"]
