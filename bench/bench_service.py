"""Service benchmarks: alert latency with a 3 s poll, and memory over 1,000 polls.

1. Latency: the real service (subprocess, SQLite) polls the local news site every 3 s; articles
   are published at random moments; a webhook receiver on loopback records when each alert
   arrives. Prints p50 / p95 / max of publication → receipt (target p95 ≤ 5 s), in steady
   state and over a run with one SIGTERM and one SIGKILL restart, and the time from each start
   to the service's first request (target ≤ 1.5 s).
2. Memory: ten sources polled every second until 1,000 polls are done; the memory of the
   service, its forkserver and its extraction workers is sampled along the way as PSS (shared
   pages counted once; target: flat, < 300 MB), with the RSS sum beside it.
   `BENCH_SERVICE_POLLS=3500` runs it longer.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Lock, Thread

from newswatch.demo.site import DemoArticle

REPO = Path(__file__).resolve().parent.parent
LATENCY_ARTICLES = 20


class Receiver:
    """A json:// webhook receiver recording arrival times by title."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                title = json.loads(body or b"{}").get("title", "")
                with receiver.lock:
                    receiver.arrivals.setdefault(title, time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"


def _write_config(directory: Path, sources: str, receiver_url: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sources.yaml").write_text(sources)
    (directory / "rules.yaml").write_text("rules:\n  - name: probe\n    query: 'latencyprobe'\n")
    (directory / "subscribers.yaml").write_text(
        f'subscribers:\n  - name: bench\n    notify: ["{receiver_url}"]\n    rules: [probe]\n'
    )


def _start(config_dir: Path, db: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", f"sqlite:///{db}", "run"],
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


WORDS = (
    "orbit station crew launch module cargo engine thruster budget agency panel review contract vehicle "
    "mission rocket payload docking antenna solar array battery telemetry schedule milestone test flight "
    "capsule parachute booster landing pad weather range safety hardware software audit report"
).split()


def _probe_article(i: int) -> DemoArticle:
    """A distinct article (random wording, so near-duplicate detection keeps them apart)."""
    rng = random.Random(i)
    sentences = [" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(12)]
    return DemoArticle(
        slug=f"probe-{i}",
        title=f"Latency probe number {i}",
        published=datetime.now(UTC).replace(microsecond=0),
        paragraphs=[
            f"This is latencyprobe article {i} for the benchmark. " + " ".join(sentences[:6]),
            " ".join(sentences[6:]),
        ],
    )


def _first_request_after(site, started: float, hits_before: int, timeout: float = 30) -> float:
    """Seconds from `started` until the service's first request to the site after a start."""
    deadline = started + timeout
    while site.hits("/robots.txt") + site.hits("/feed.xml") <= hits_before and time.time() < deadline:
        time.sleep(0.01)
    return time.time() - started


def bench_latency(tmp: Path, restarts: bool) -> None:
    """Alert latency with 3 s polls; with `restarts`, one SIGTERM and one SIGKILL restart in the run."""
    from fixture_site import NewsSite

    site = NewsSite([]).start()
    receiver = Receiver()
    sources = (
        f"sources:\n  - name: site\n    feed: {site.url}/feed.xml\n    every: 3s\n    allow_private: true\n"
    )
    name = "restarts" if restarts else "latency"
    _write_config(tmp / name, sources, receiver.url)
    first_polls: list[float] = []

    def start() -> subprocess.Popen:
        before = site.hits("/robots.txt") + site.hits("/feed.xml")
        started = time.time()
        proc = _start(tmp / name, tmp / f"{name}.db", tmp / f"{name}.log")
        first_polls.append(_first_request_after(site, started, before))
        return proc

    proc = start()
    published: dict[str, float] = {}
    stops = {7: signal.SIGTERM, 14: signal.SIGKILL} if restarts else {}
    try:
        deadline = time.time() + 60
        while site.hits("/feed.xml") < 2 and time.time() < deadline:
            time.sleep(0.2)
        rng = random.Random(7)
        for i in range(LATENCY_ARTICLES):
            time.sleep(rng.uniform(0.5, 4.0))
            article = _probe_article(i)
            article.published = datetime.now(UTC).replace(microsecond=0)
            published[article.title] = time.time()
            site.publish(article)
            if i in stops:
                time.sleep(rng.uniform(0.0, 1.0))
                proc.send_signal(stops[i])
                proc.wait(30)
                proc = start()
        deadline = time.time() + 30
        while len(receiver.arrivals) < len(published) and time.time() < deadline:
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        site.stop()
    latencies = sorted(
        arrival - published[name]
        for title, arrival in receiver.arrivals.items()
        for name in published
        if title.endswith(name)
    )
    if not latencies:
        print("latency: no alert arrived; see", tmp / f"{name}.log")
        return
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
    label = "one SIGTERM and one SIGKILL restart" if restarts else "steady state"
    print(
        f"alert latency, 3 s poll, {label}, {len(latencies)}/{len(published)} alerts: "
        f"p50={statistics.median(latencies):.2f}s p95={p95:.2f}s max={latencies[-1]:.2f}s (target p95 ≤ 5 s)"
    )
    print(
        "first request after each start: " + ", ".join(f"{t:.2f}s" for t in first_polls) + " (target ≤ 1.5 s)"
    )


def _process_tree(pid: int) -> list[int]:
    """The process and all its descendants (the forkserver, the extraction workers)."""
    pids = [pid]
    for parent in pids:  # grows while it is walked
        try:
            pids += [int(c) for c in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
        except OSError:
            continue
    return pids


def _memory_mb(pid: int) -> tuple[float, float]:
    """Return (PSS, RSS) of the process tree in MB. PSS counts each shared page once, split
    between the processes sharing it: the workers fork from a forkserver that preloaded the
    extraction stack, so summing their RSS would count those pages three times."""
    pss = rss = 0
    for p in _process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        except OSError:
            continue
    return pss / 1024, rss / 1024


def bench_memory(tmp: Path, polls: int = 1000, sources: int = 10) -> None:
    from fixture_site import NewsSite

    site = NewsSite().start()
    receiver = Receiver()
    lines = ["sources:"]
    for i in range(sources):
        feed = ("/feed.xml", "/atom.xml", "/partner/feed.xml", "/rss1.xml")[i % 4]
        lines.append(
            f"  - name: s{i}\n    feed: {site.url}{feed}?copy={i}\n    every: 1s\n    allow_private: true"
        )
    _write_config(tmp / "memory", "\n".join(lines) + "\n", receiver.url)
    proc = _start(tmp / "memory", tmp / "memory.db", tmp / "memory.log")
    samples: list[tuple[int, float, float]] = []
    started = time.time()
    try:
        deadline = started + polls / sources * 3 + 120
        while time.time() < deadline:
            done = sum(1 for r in list(site.requests) if r.path.endswith(".xml"))
            samples.append((done, *_memory_mb(proc.pid)))
            if done >= polls:
                break
            time.sleep(2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        site.stop()
    if not samples:
        print("memory: no samples")
        return
    warm = [(pss, rss) for done, pss, rss in samples if done >= polls * 0.1] or [samples[-1][1:]]
    _, end_pss, end_rss = samples[-1]
    print(
        f"memory over {samples[-1][0]} polls in {time.time() - started:.0f}s ({sources} sources, 1 s polls), "
        f"service + forkserver + extraction workers: PSS after warm-up {warm[0][0]:.0f} MB, end {end_pss:.0f} MB, "
        f"peak {max(pss for _, pss, _ in samples):.0f} MB (target flat and < 300 MB); "
        f"RSS summed over the processes (shared pages counted in each) {warm[0][1]:.0f} -> {end_rss:.0f} MB"
    )


def main() -> None:
    sys.path.insert(0, str(REPO / "tests"))  # the fixture news site: tests/fixture_site.py
    with tempfile.TemporaryDirectory(prefix="newswatch-bench-") as tmp:
        bench_latency(Path(tmp), restarts=False)
        bench_latency(Path(tmp), restarts=True)
        bench_memory(Path(tmp), polls=int(os.environ.get("BENCH_SERVICE_POLLS", 1000)))


if __name__ == "__main__":
    main()
