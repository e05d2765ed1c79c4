"""The HTTP API beside the polls: does serving it slow alerts down?

The real service (subprocess, SQLite) polls the local news site every second and serves the
API on loopback. Articles are published at random moments and a webhook receiver records when
each alert arrives — first with the API idle, then while client threads keep the API busy
(rule lists, article searches, `rules/test`, alerts). Printed: alert latency (publication →
receipt) p50 / p95 both ways, the API's own request latency and throughput under that load,
and how long the running service takes to pick up a rule made through the API.
`BENCH_API_ARTICLES` (default 15) and `BENCH_API_CLIENTS` (default 4) change the run.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.bench_service import REPO, Receiver, _probe_article

ARTICLES = int(os.environ.get("BENCH_API_ARTICLES", 15))
CLIENTS = int(os.environ.get("BENCH_API_CLIENTS", 4))


def _newswatch(config: Path, db: str, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config), "--db", db, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    return done.stdout


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


class Load:
    """Client threads calling the API as fast as it answers; request latencies recorded."""

    REQUESTS = (
        ("GET", "/api/v1/rules", None),
        ("GET", "/api/v1/articles?q=latencyprobe&limit=20", None),
        ("POST", "/api/v1/rules/test", {"query": "orbit AND crew", "since": "1d"}),
        ("GET", "/api/v1/alerts?limit=20", None),
        ("GET", "/api/v1/sources", None),
    )

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.latencies: list[float] = []
        self.errors = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        ) as c:
            while not self.stop.is_set():
                method, path, body = rng.choice(self.REQUESTS)
                started = time.perf_counter()
                response = c.request(method, path, json=body)
                took = time.perf_counter() - started
                with self.lock:
                    self.latencies.append(took)
                    self.errors += response.status_code >= 400

    def __enter__(self) -> Load:
        self.started = time.perf_counter()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(CLIENTS)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        self.seconds = time.perf_counter() - self.started


def _publish_and_measure(site, receiver: Receiver, first: int) -> list[float]:
    published: dict[str, float] = {}
    rng = random.Random(first)
    for i in range(first, first + ARTICLES):
        time.sleep(rng.uniform(0.3, 1.5))
        article = _probe_article(i)
        article.published = datetime.now(UTC).replace(microsecond=0)
        published[article.title] = time.time()
        site.publish(article)

    def arrived() -> dict[str, float]:  # alert titles are "[rules] article title"
        with receiver.lock:
            seen = dict(receiver.arrivals)
        return {t: at for t, at in seen.items() for p in published if t.endswith(p)}

    deadline = time.time() + 30
    while len(arrived()) < len(published) and time.time() < deadline:
        time.sleep(0.1)
    return [at - published[p] for t, at in arrived().items() for p in published if t.endswith(p)]


def _pick_up(api: httpx.Client, log: Path, rounds: int = 5) -> list[float]:
    """Seconds from a rule's POST until the service logs that it reloaded its config."""
    delays = []
    for n in range(rounds):
        before = log.read_text().count("config reloaded")
        started = time.perf_counter()
        api.post("/api/v1/rules", json={"name": f"pickup-{n}", "query": f"pickup{n}"}).raise_for_status()
        while log.read_text().count("config reloaded") <= before and time.perf_counter() - started < 10:
            time.sleep(0.02)
        delays.append(time.perf_counter() - started)
    return delays


def main() -> None:
    sys.path.insert(0, str(REPO / "tests"))  # the fixture news site: tests/fixture_site.py
    from fixture_site import NewsSite
    from receivers import free_port

    with tempfile.TemporaryDirectory(prefix="newswatch-bench-api-") as folder:
        tmp = Path(folder)
        site, receiver = NewsSite([]).start(), Receiver()
        config, db, log, port = (
            tmp / "config",
            f"sqlite:///{tmp / 'api.db'}",
            tmp / "service.log",
            free_port(),
        )
        config.mkdir()
        (config / "sources.yaml").write_text(
            f"sources:\n  - name: site\n    feed: {site.url}/feed.xml\n    every: 1s\n    allow_private: true\n"
        )
        (config / "rules.yaml").write_text("rules:\n  - name: probe\n    query: 'latencyprobe'\n")
        (config / "subscribers.yaml").write_text(
            f'subscribers:\n  - name: bench\n    notify: ["{receiver.url}"]\n    rules: [probe]\n'
        )
        _newswatch(
            config, db, "users", "add", "bench", "--admin", "--password-stdin", stdin="bench-password\n"
        )
        token = _newswatch(config, db, "tokens", "create", "bench").splitlines()[-1]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "newswatch",
                "--config",
                str(config),
                "--db",
                db,
                "run",
                "--web",
                f"127.0.0.1:{port}",
            ],
            stdout=open(log, "w"),
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            deadline = time.time() + 60
            while site.hits("/feed.xml") < 2 and time.time() < deadline:
                time.sleep(0.2)
            idle = _publish_and_measure(site, receiver, 0)
            with Load(base, token) as load:
                busy = _publish_and_measure(site, receiver, 1000)
            picked = _pick_up(api, log)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            site.stop()
        for label, values in (("API idle", idle), (f"API busy ({CLIENTS} clients)", busy)):
            if values:
                print(
                    f"alert latency, 1 s poll, {label}: {len(values)}/{ARTICLES} alerts, "
                    f"p50={statistics.median(values):.2f}s p95={_percentile(values, 0.95):.2f}s max={max(values):.2f}s"
                )
            else:
                print(f"alert latency, {label}: no alert arrived; see {log}")
        if load.latencies:
            print(
                f"API under load: {len(load.latencies)} requests in {load.seconds:.1f}s "
                f"({len(load.latencies) / load.seconds:.0f}/s), p50={statistics.median(load.latencies) * 1000:.0f}ms "
                f"p95={_percentile(load.latencies, 0.95) * 1000:.0f}ms, {load.errors} errors"
            )
        print(
            "API change picked up by the running service: "
            + ", ".join(f"{d:.2f}s" for d in picked)
            + f" (median {statistics.median(picked):.2f}s; contract ≤ 5 s)"
        )
