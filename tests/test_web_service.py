"""The web interface of a running service, in a real browser: a rule and a subscription made on
the pages alert on the next matching article the fixture site publishes (webhook on
loopback), the alert shows in the ledger, and "Poll now" asks the service for a poll."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser_support import PASSWORD, log_in, shoot
from fixture_site import NewsSite
from receivers import WebhookReceiver, free_port, wait_until

from newswatch.demo.site import DemoArticle

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

LEAK = DemoArticle(
    slug="zvezda-leak-update",
    title="Engineers narrow down the Zvezda leak",
    paragraphs=["Engineers said the Zvezda leak rate fell after the latest repair attempt."] * 3,
    published=datetime.now(UTC).replace(microsecond=0),
)


def test_a_rule_and_subscription_made_in_the_browser_alert_through_the_running_service(
    tmp_path: Path, browser
) -> None:
    site = NewsSite([]).start()
    config = tmp_path / "config"
    config.mkdir()
    (config / "sources.yaml").write_text(
        f"sources:\n  - name: wire\n    feed: {site.url}/feed.xml\n    every: 2s\n    allow_private: true\n"
    )
    (config / "rules.yaml").write_text("rules:\n  - name: agency\n    query: Roscosmos\n")
    (config / "subscribers.yaml").write_text("subscribers: []\n")
    database = f"sqlite:///{tmp_path / 'nw.db'}"
    base = [sys.executable, "-m", "newswatch", "--config", str(config), "--db", database]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run(
        [*base, "users", "add", "desk", "--admin", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    port = free_port()
    log_path = tmp_path / "service.log"
    service = subprocess.Popen(
        [*base, "run", "--web", f"127.0.0.1:{port}"],
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        with WebhookReceiver() as hook:
            assert wait_until(lambda: "web interface at" in log_path.read_text(), 60), log_path.read_text()
            log_in(page, url, "desk")

            page.goto(f"{url}/rules/new")
            page.get_by_label("Name").fill("station-leak")
            page.get_by_label("Query").fill("Zvezda NEAR/3 leak*")
            page.get_by_role("button", name="Save").click()
            page.wait_for_url(f"{url}/rules/station-leak?*")

            page.goto(f"{url}/subscribers/new")
            page.get_by_label("Name").fill("desk")
            page.get_by_label("Destinations").fill(hook.url())
            page.get_by_label("Rules").select_option(["station-leak"])
            page.get_by_role("button", name="Save").click()
            page.wait_for_url(f"{url}/subscribers/desk?*")
            assert f"127.0.0.1:{hook.port}" in page.locator("main").inner_text()

            time.sleep(3)  # the service picks API and page changes up within seconds
            LEAK.published = datetime.now(UTC).replace(microsecond=0)
            site.publish(LEAK)
            assert hook.wait_for(1, timeout=60), log_path.read_text()[-3000:]
            assert LEAK.title in hook.successes[0].json()["title"]

            # The ledger says "sent" once the receiver's answer is recorded, a moment after the
            # receiver has the alert.
            alert = page.locator(".result").filter(has_text=LEAK.title)

            def shown_as_sent() -> bool:
                page.goto(f"{url}/alerts")
                return alert.locator(".state.sent").count() >= 1

            assert wait_until(shown_as_sent, 20), page.locator("main").inner_text()
            shoot(page, "service-alerts")

            page.goto(f"{url}/sources")
            before = site.hits("/feed.xml")
            page.get_by_role("button", name="Poll now").click()
            assert "is being polled now" in page.get_by_role("status").inner_text()
            assert wait_until(lambda: site.hits("/feed.xml") > before, 10)
            assert len(hook.successes) == 1, "one alert per story"
    finally:
        context.close()
        service.send_signal(signal.SIGTERM)
        code = service.wait(30)
        site.stop()
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
