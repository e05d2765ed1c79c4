"""The running service picks up what the API changes, without a restart: a rule and a
subscriber made through the API of `newswatch run` (a subprocess) alert on the next matching
article the fixture site publishes; the webhook receiver gets it. Prints the pick-up delay
(POST → the service's "config reloaded") and the alert latency (publication → receipt)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fixture_site import NewsSite
from receivers import WebhookReceiver, free_port
from test_service_e2e import REPO, ServiceProcess, _wait

from newswatch.demo.site import DemoArticle

pytestmark = pytest.mark.slow


def _config(directory: Path, site: NewsSite) -> Path:
    directory.mkdir()
    (directory / "sources.yaml").write_text(
        f"sources:\n  - name: wire\n    feed: {site.url}/feed.xml\n    every: 1s\n    allow_private: true\n"
    )
    (directory / "rules.yaml").write_text("rules:\n  - name: roscosmos\n    query: Roscosmos\n")
    (directory / "subscribers.yaml").write_text("subscribers: []\n")
    return directory


def _newswatch(config_dir: Path, db_url: str, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", db_url, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rule_made_through_the_api_alerts_without_a_restart(db_url: str, tmp_path: Path) -> None:
    with NewsSite(articles=[]) as site, WebhookReceiver() as hook:
        config_dir = _config(tmp_path / "config", site)
        _newswatch(
            config_dir, db_url, "users", "add", "root", "--admin", "--password-stdin", stdin="password-123\n"
        )
        token = _newswatch(config_dir, db_url, "tokens", "create", "root", "--label", "test").splitlines()[-1]
        port = free_port()
        service = ServiceProcess(config_dir, db_url, tmp_path / "service.log")
        service.args += ["--web", f"127.0.0.1:{port}"]
        service.start()
        try:
            api = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
            )
            _wait(lambda: _healthy(api), 60, "the API", service)
            _wait(lambda: "polled" in service.log_path.read_text(), 60, "the first poll", service)
            reloads = service.log_path.read_text().count("config reloaded")
            started = time.monotonic()
            assert api.post("/api/v1/rules", json={"name": "zeph", "query": "Zephyrium"}).status_code == 201
            made = api.post(
                "/api/v1/subscribers", json={"name": "hook", "notify": [hook.url()], "rules": ["zeph"]}
            )
            assert made.status_code == 201, made.text
            _wait(
                lambda: service.log_path.read_text().count("config reloaded") > reloads,
                5,
                "the pick-up",
                service,
            )
            picked_up = time.monotonic() - started
            published = datetime.now(UTC)
            site.publish(
                DemoArticle(
                    slug="zephyrium",
                    title="Zephyrium probe cleared for launch",
                    paragraphs=[
                        "The Zephyrium probe was cleared for launch on Monday.",
                        "Engineers agreed. " * 20,
                    ],
                    language="en",
                    published=published.replace(microsecond=0),
                    summary="The Zephyrium probe was cleared.",
                    author="Test Desk",
                )
            )
            assert hook.wait_for(1, timeout=30), service.log_tail()
            latency = (datetime.now(UTC) - published).total_seconds()
            assert "Zephyrium probe cleared for launch" in hook.requests[0].body.decode()
            alerts = api.get("/api/v1/alerts").json()
            assert alerts[0]["subscriber"] == "hook" and alerts[0]["rules"] == ["zeph"]
            print(
                f"\nAPI change picked up by the running service in {picked_up:.2f} s; alert {latency:.2f} s after publication"
            )
        finally:
            assert service.stop() == 0, service.log_tail()


def _healthy(api: httpx.Client) -> bool:
    try:
        return api.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False
