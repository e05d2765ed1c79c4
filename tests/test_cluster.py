"""A deployment of four processes with split roles on one PostgreSQL database, against the
fixture news site, with a crawl process and the active scheduler killed (SIGKILL) mid-way.

    A  scheduler,match            (started first: the active scheduler)
    B  scheduler,match,deliver    (the standby scheduler)
    C  crawl                      (killed while a poll waits for a slow article page)
    D  crawl                      (started just before C is killed; takes its work over)

Asserted: every expected alert arrives exactly once, none from the backlog; no source is polled
twice at once (the site counts overlapping requests to each feed; the database's poll records
never overlap on the sources' one host); the dead poll is taken up again and its record does
not stay "running"; another scheduler takes over within 30 s; `newswatch status` shows the
processes. Also: a role subset on SQLite is one line and exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cluster_support import REPO, Node, Records, article, logs, wait_until
from fixture_site import NewsSite
from receivers import WebhookReceiver, free_port

from newswatch.demo.site import DemoArticle

BACKLOG = [
    article(
        "old-roscosmos-budget", "Old news: Roscosmos budget trimmed", "Roscosmos saw its budget trimmed.", 30
    ),
    article(
        "old-deorbit-plan", "Old news: ISS deorbit plan outlined", "The ISS deorbit plan was outlined.", 50
    ),
]
FIRST = [
    article(
        "cargo-contract", "Roscosmos signs cargo contract", "Roscosmos has signed a contract for a freighter."
    ),
    article(
        "usdv-milestone",
        "Deorbit vehicle clears a milestone",
        "The vehicle that will deorbit the ISS passed.",
    ),
]
DURING_CRAWL_KILL = [
    article(
        "joint-talks",
        "Roscosmos and partners discuss the ISS",
        "Roscosmos and its partners met about the ISS.",
    ),
    article(
        "burn-rehearsal",
        "Controllers rehearse the deorbit burn",
        "Controllers rehearsed the burn to deorbit the ISS.",
    ),
]
AFTER_TAKEOVER = [
    article("next-launch", "Roscosmos names the next launch date", "Roscosmos named a launch date.")
]
TAKEOVER_LIMIT = 30.0


def _config(directory: Path, site: NewsSite, hook: str) -> Path:
    directory.mkdir()
    (directory / "sources.yaml").write_text(f"""
sources:
  - name: wire
    feed: {site.url}/feed.xml
    every: 1s
    allow_private: true
  - name: atom
    feed: {site.url}/atom.xml
    every: 1s
    allow_private: true
""")
    (directory / "rules.yaml").write_text("""
rules:
  - name: roscosmos
    query: 'Roscosmos'
  - name: iss-deorbit
    query: 'deorbit* AND ISS'
""")
    (directory / "subscribers.yaml").write_text(f"""
subscribers:
  - name: desk
    notify: ["{hook}"]
    rules: [roscosmos, iss-deorbit]
""")
    (directory / "settings.yaml").write_text("""
delivery:
  backoff_initial: 1s
  backoff_max: 2s
cluster:
  crawl_concurrency: 4
""")
    return directory


def _publish(site: NewsSite, articles: list[DemoArticle]) -> None:
    for item in articles:
        item.published = datetime.now(UTC).replace(microsecond=0)
    site.publish(*articles)


def _titles(desk: WebhookReceiver) -> list[str]:
    return [r.json().get("title", "") for r in desk.successes]


def _has_all(desk: WebhookReceiver, articles: list[DemoArticle]) -> bool:
    titles = _titles(desk)
    return all(any(a.title in t for t in titles) for a in articles)


def _overlapping_polls(records: Records) -> list[tuple]:
    """Poll records of the one host whose times overlap (none when the engine's lock holds).
    Polls closed by someone else (their process died) have no true end and are left out."""
    runs = records.rows(
        "SELECT id, source_id, started_at, finished_at FROM crawl_runs WHERE finished_at IS NOT NULL"
        " AND (error_summary IS NULL OR (error_summary NOT LIKE 'interrupted:%' AND error_summary NOT LIKE 'abandoned:%'))"
        " ORDER BY started_at"
    )
    return [
        (a["id"], b["id"]) for a, b in zip(runs, runs[1:], strict=False) if b["started_at"] < a["finished_at"]
    ]


@pytest.mark.slow
@pytest.mark.postgres
def test_cluster_keeps_every_alert_once_with_a_crawler_and_the_scheduler_killed(
    postgres_url: str, tmp_path: Path
):
    site = NewsSite(BACKLOG).start()
    records = Records(postgres_url)
    nodes: list[Node] = []
    try:
        with WebhookReceiver() as desk:
            config_dir = _config(tmp_path / "config", site, desk.url())

            def node(name: str, roles: str, *extra: str) -> Node:
                nodes.append(Node(name, roles, config_dir, postgres_url, tmp_path, *extra).start())
                return nodes[-1]

            a = node("a", "scheduler,match")
            wait_until(lambda: records.leader_pid() == a.pid, 60, "A to become the active scheduler", nodes)
            b_port = free_port()
            b = node("b", "scheduler,match,deliver", "--metrics-port", str(b_port))
            c = node("c", "crawl")
            wait_until(
                lambda: site.hits("/articles/old-deorbit-plan.html") >= 1, 60, "the backlog crawl", nodes
            )

            _publish(site, FIRST)
            wait_until(lambda: _has_all(desk, FIRST), 60, "the first alerts", nodes)

            # Kill C while its poll waits for a slow article page; D takes the work over.
            slow = f"/articles/{DURING_CRAWL_KILL[0].slug}.html"
            site.behave(slow, delay=4.0)
            _publish(site, DURING_CRAWL_KILL)
            wait_until(lambda: site.answering(slow) >= 1, 30, "C to be mid-poll", nodes)
            d = node("d", "crawl")
            c.kill()
            killed_at = datetime.now(UTC).replace(tzinfo=None)
            site.behave(slow)  # answers at once again
            wait_until(lambda: _has_all(desk, DURING_CRAWL_KILL), 60, "the alerts of the killed poll", nodes)
            wait_until(
                lambda: (
                    not records.rows(
                        "SELECT id FROM crawl_runs WHERE status = 'running' AND started_at < :t", t=killed_at
                    )
                ),
                40,
                "the killed poll's record to be closed",
                nodes,
            )

            # Kill the active scheduler; B takes over and the deployment keeps alerting.
            assert records.leader_pid() == a.pid, logs(nodes)
            a.kill()
            took = wait_until(lambda: records.leader_pid() == b.pid, TAKEOVER_LIMIT, "B to take over", nodes)
            _publish(site, AFTER_TAKEOVER)
            wait_until(lambda: _has_all(desk, AFTER_TAKEOVER), 60, "an alert after the take-over", nodes)
            time.sleep(3)  # anything sent twice would arrive by now

            def status() -> list[dict]:
                result = subprocess.run(
                    [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", postgres_url,
                     "status", "--json"],
                    capture_output=True, text=True, timeout=60, cwd=REPO,
                )  # fmt: skip
                assert result.returncode == 0, result.stderr
                return json.loads(result.stdout)["processes"]

            def shows_who_holds_what() -> bool:
                shown = {p["pid"]: p for p in status()}
                states = {n.name: shown[n.pid]["state"] for n in nodes if n.pid in shown}
                leaders = [pid for pid, p in shown.items() if p["leader"]]
                return states == {"a": "gone", "b": "running", "c": "gone", "d": "running"} and leaders == [
                    b.pid
                ]

            wait_until(
                shows_who_holds_what, 30, "status to show the dead processes gone and B leading", nodes
            )
            for n in (b, d):
                assert n.stop() == 0, logs(nodes)
            titles = _titles(desk)
    finally:
        for n in nodes:
            if n.proc is not None and n.proc.poll() is None:
                n.proc.kill()
        site.stop()

    print(f"\nscheduler take-over: {took:.1f}s after SIGKILL")
    expected = FIRST + DURING_CRAWL_KILL + AFTER_TAKEOVER
    for item in expected:
        assert sum(item.title in t for t in titles) == 1, (item.title, titles)
    for item in BACKLOG:
        assert not any(item.title in t for t in titles), (item.title, titles)
    assert len(titles) == len(expected), titles
    assert site.most_at_once("/feed.xml") == 1
    assert site.most_at_once("/atom.xml") == 1
    assert _overlapping_polls(records) == []
    assert took < TAKEOVER_LIMIT
    records.close()


def test_role_subset_on_sqlite_is_one_line_and_exit_2(tmp_path: Path, config_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", f"sqlite:///{tmp_path / 'x.db'}",
         "run", "--roles", "crawl"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "needs PostgreSQL" in result.stderr, result.stderr


def test_unknown_role_is_one_line_and_exit_2(tmp_path: Path, config_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", f"sqlite:///{tmp_path / 'x.db'}",
         "run", "--roles", "crawl,poller"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "'poller'" in result.stderr, result.stderr
