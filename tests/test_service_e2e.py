"""End to end: the real service as a subprocess against the local news site, with real
webhook receivers, stopped once with SIGTERM and once with SIGKILL and restarted.

Subscribers: `desk` (instant), `digest` (every few seconds), `flaky` (its endpoint fails
first). Asserted: every expected alert arrives, none twice, no backlog alert, no alert from
text outside the article body (every page's sidebar, ticker and comments name Roscosmos, ISS
and deorbit), a syndicated copy and a tracking-parameter feed add nothing. Alert latency
(publication → receipt) is printed.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixture_site import NewsSite, syndicated_copy
from receivers import WebhookReceiver

from newswatch.demo.site import DemoArticle

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _article(
    slug: str, title: str, paragraphs: list[str], hours_ago: float = 0.0, language: str = "en"
) -> DemoArticle:
    return DemoArticle(
        slug=slug,
        title=title,
        paragraphs=paragraphs,
        language=language,
        published=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago),
        summary=paragraphs[0][:120],
        author="Test Desk",
        related=["Roscosmos confirms ISS deorbit timeline", "Роскосмос: новые сроки"],
    )


FILLER = (
    "Engineers reviewed telemetry from the previous weeks and agreed on a schedule for the next steps. "
    "Independent experts said the plan looked achievable if funding arrives on time. "
)

BACKLOG = [
    _article(
        "old-roscosmos-budget",
        "Old news: Roscosmos budget trimmed",
        ["Roscosmos saw its budget trimmed last year, officials said.", FILLER * 3],
        hours_ago=30,
    ),
    _article(
        "old-deorbit-plan",
        "Old news: ISS deorbit plan outlined",
        ["The ISS deorbit plan was outlined in broad strokes at a briefing.", FILLER * 3],
        hours_ago=50,
    ),
]
ROSCOSMOS_1 = _article(
    "roscosmos-cargo-contract",
    "Roscosmos signs cargo contract for new freighter",
    [
        "Roscosmos has signed a contract for a new cargo freighter to supply orbital outposts.",
        "The agency expects the first flight within three years. " + FILLER * 3,
    ],
)
DEORBIT_2 = _article(
    "usdv-milestone",
    "Deorbit vehicle for the ISS clears another milestone",
    [
        "The vehicle that will deorbit the ISS has cleared another design milestone.",
        "Managers said the deorbit burn sequence is now frozen. " + FILLER * 3,
    ],
)
SIDEBAR_TRAP_3 = _article(
    "aurora-season",
    "Aurora season is off to a bright start",
    [
        "Skywatchers in northern countries reported bright aurora displays this week.",
        "Forecasters expect more activity as the solar cycle peaks. " + FILLER * 3,
    ],
)
BOTH_4 = _article(
    "joint-deorbit-talks",
    "Roscosmos and partners discuss how to deorbit the ISS",
    [
        "Roscosmos and its partners met to discuss how to deorbit the ISS safely.",
        "The meeting covered propellant reserves and the deorbit corridor. " + FILLER * 3,
    ],
)
RUSSIAN_5 = _article(
    "roskosmos-zapusk",
    "Роскосмос назвал дату следующего запуска",
    [
        "Роскосмос назвал дату следующего запуска грузового корабля к станции.",
        "Подготовка ракеты идёт по графику, сообщили в агентстве. " * 4,
    ],
    language="ru",
)
DEORBIT_6 = _article(
    "deorbit-burn-rehearsal",
    "Controllers rehearse the final ISS deorbit burn",
    [
        "Flight controllers rehearsed the final burn that will deorbit the ISS.",
        "The rehearsal lasted eleven hours. " + FILLER * 3,
    ],
)
SYNDICATED_1 = syndicated_copy(
    ROSCOSMOS_1,
    "agency-roscosmos-cargo-contract",
    "MOSCOW (Agency) — Roscosmos has signed a contract for a new cargo freighter to "
    "supply orbital outposts, the agency said.",
)


def _config(directory: Path, site: NewsSite, desk: str, digest: str, flaky: str) -> Path:
    directory.mkdir()
    (directory / "sources.yaml").write_text(f"""
sources:
  - name: wire
    feed: {site.url}/feed.xml
    every: 1s
    allow_private: true
  - name: partner
    feed: {site.url}/partner/feed.xml
    every: 1s
    allow_private: true
""")
    (directory / "rules.yaml").write_text("""
rules:
  - name: roscosmos
    query: 'Roscosmos OR Роскосмос*'
  - name: iss-deorbit
    query: 'deorbit* AND (ISS OR "space station")'
""")
    (directory / "subscribers.yaml").write_text(f"""
subscribers:
  - name: desk
    notify: ["{desk}"]
    rules: [roscosmos, iss-deorbit]
  - name: digest
    notify: ["{digest}"]
    rules: [roscosmos]
    digest: every 4s
  - name: flaky
    notify: ["{flaky}"]
    rules: [iss-deorbit]
""")
    (directory / "settings.yaml").write_text("""
delivery:
  max_attempts: 20
  backoff_initial: 1s
  backoff_max: 2s
""")
    return directory


class ServiceProcess:
    """`newswatch run` in a subprocess, its output in a log file."""

    def __init__(self, config_dir: Path, db_url: str, log_path: Path) -> None:
        self.args = [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", db_url, "run"]
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "a")  # closed with the process
        log.write(f"\n===== start {datetime.now(UTC).isoformat()}\n")
        log.flush()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


def _wait(condition, timeout: float, what: str, service: ServiceProcess) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}\n--- service log ---\n{service.log_tail()}"
    )


def _titles(receiver: WebhookReceiver) -> list[str]:
    return [r.json().get("title", "") for r in receiver.successes]


def _count(titles: list[str], article: DemoArticle) -> int:
    return sum(article.title in t for t in titles)


def test_service_delivers_every_alert_once_across_sigterm_and_sigkill(db_url: str, tmp_path: Path) -> None:
    site = NewsSite(BACKLOG).start()
    with WebhookReceiver() as desk, WebhookReceiver() as digest, WebhookReceiver(fail_first=3) as flaky:
        config_dir = _config(tmp_path / "config", site, desk.url(), digest.url(), flaky.url())
        service = ServiceProcess(config_dir, db_url, tmp_path / "service.log")
        published: dict[str, float] = {}
        received: dict[str, float] = {}

        def publish(*articles: DemoArticle) -> None:
            now = time.time()
            fresh = []
            for article in articles:
                article.published = datetime.now(UTC).replace(microsecond=0)
                published[article.title] = now
                fresh.append(article)
            site.publish(*fresh)

        def desk_has(n: int) -> bool:
            for request in desk.successes:
                title = request.json().get("title", "")
                for name in published:
                    if name in title and name not in received:
                        received[name] = time.time()
            return len(desk.successes) >= n

        try:
            service.start()
            _wait(
                lambda: site.hits("/articles/old-deorbit-plan.html") >= 1,
                60,
                "the backlog to be crawled",
                service,
            )
            publish(ROSCOSMOS_1, DEORBIT_2, SIDEBAR_TRAP_3)
            _wait(lambda: desk_has(2), 60, "the first two alerts", service)

            assert service.stop(signal.SIGTERM) == 0, service.log_tail()
            publish(BOTH_4, SYNDICATED_1)  # while the service is down
            service.start()
            _wait(lambda: desk_has(3), 60, "the alert for the story published while down", service)
            publish(RUSSIAN_5)
            _wait(lambda: desk_has(4), 60, "the Russian-language alert", service)

            publish(DEORBIT_6)
            _wait(lambda: site.hits(DEORBIT_6.path) >= 1, 30, "the last article to be fetched", service)
            service.stop(signal.SIGKILL)
            service.start()
            _wait(lambda: desk_has(5), 60, "the alert pending at SIGKILL", service)
            _wait(lambda: len(flaky.successes) >= 3, 60, "the flaky endpoint to get its alerts", service)
            _wait(
                lambda: (
                    sum(
                        _count([r.json().get("message", "") for r in digest.successes], a)
                        for a in (ROSCOSMOS_1, BOTH_4, RUSSIAN_5)
                    )
                    >= 3
                ),
                60,
                "the digests",
                service,
            )
            time.sleep(3)  # room for any duplicate to show up
            assert service.stop(signal.SIGTERM) == 0, service.log_tail()
        finally:
            if service.proc and service.proc.poll() is None:
                service.proc.kill()
                service.proc.wait(10)
            site.stop()

        desk_titles = _titles(desk)
        for article in (ROSCOSMOS_1, DEORBIT_2, BOTH_4, RUSSIAN_5, DEORBIT_6):
            assert _count(desk_titles, article) == 1, (article.title, desk_titles)
        assert len(desk_titles) == 5, desk_titles
        for article in (*BACKLOG, SIDEBAR_TRAP_3):
            assert _count(desk_titles, article) == 0, (article.title, desk_titles)
        both = next(t for t in desk_titles if BOTH_4.title in t)
        assert "roscosmos" in both and "iss-deorbit" in both

        flaky_titles = _titles(flaky)
        assert sorted(flaky_titles) == sorted(set(flaky_titles)), flaky_titles
        for article in (DEORBIT_2, BOTH_4, DEORBIT_6):
            assert _count(flaky_titles, article) == 1, (article.title, flaky_titles)
        assert len(flaky.requests) >= 3 + 3  # three 500s first, then every alert once

        digest_bodies = [r.json().get("message", "") for r in digest.successes]
        for article in (ROSCOSMOS_1, BOTH_4, RUSSIAN_5):
            assert _count(digest_bodies, article) == 1, (article.title, digest_bodies)
        for article in (DEORBIT_2, DEORBIT_6, SIDEBAR_TRAP_3, *BACKLOG):
            assert _count(digest_bodies, article) == 0, article.title

        latencies = sorted(received[t] - published[t] for t in received)
        print(
            f"\nalert latency publication→receipt over {len(latencies)} alerts (1 s polls, incl. restarts): "
            f"p50={statistics.median(latencies):.2f}s "
            f"p95={latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]:.2f}s "
            f"max={latencies[-1]:.2f}s"
        )
