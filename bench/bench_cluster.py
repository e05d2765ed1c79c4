"""A cluster on this machine: N loopback sources polled every minute by 1, 2 and 4 crawl processes.

The deployment: one `scheduler,match,deliver` process and C `crawl` processes
(`newswatch run --roles …`) on a scratch PostgreSQL database, against HOSTS demo news sites on
127.0.0.2 … (every address of 127/8 is loopback on Linux, so each site is its own host for the
per-host lock). Each source is one site's feed under its own URL (`/feed.xml?s=I`); after the
first poll most answers are 304, as with real feeds between two stories. After WARMUP seconds
(the first round of polls), the window of WINDOW seconds is measured:
- polls/s: poll records finished in the window;
- scheduling lag p95: how late polls started against their schedule (the crawl processes'
  own figure, cluster.node), and how late the oldest waiting poll was at the end;
- CPU per poll: CPU seconds of the crawl processes (with their extraction workers), of the
  scheduler process, and of PostgreSQL's backends, over the window, divided by the polls.
A deployment keeps up while polls/s ≈ N/60 and the lag stays at a few seconds.

Knobs: BENCH_CLUSTER_SOURCES (2000), BENCH_CLUSTER_HOSTS (50), BENCH_CLUSTER_CRAWLERS ("1,2,4"),
BENCH_CLUSTER_WARMUP (60), BENCH_CLUSTER_WINDOW (60); PostgreSQL as in bench_engines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from newswatch.demo.site import DemoSite, bundled_articles

REPO = Path(__file__).resolve().parent.parent
SOURCES = int(os.environ.get("BENCH_CLUSTER_SOURCES", "2000"))
HOSTS = int(os.environ.get("BENCH_CLUSTER_HOSTS", "50"))
CRAWLERS = [int(x) for x in os.environ.get("BENCH_CLUSTER_CRAWLERS", "1,2,4").split(",")]
WARMUP = float(os.environ.get("BENCH_CLUSTER_WARMUP", "60"))
WINDOW = float(os.environ.get("BENCH_CLUSTER_WINDOW", "60"))
TICK = os.sysconf("SC_CLK_TCK")


def _admin_dsn() -> str:
    base = (
        os.environ.get("NEWSWATCH_BENCH_DATABASE_URL")
        or os.environ.get("NEWSWATCH_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    return (
        make_url(base).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    )


def _write_config(directory: Path, sites: list[DemoSite]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["sources:"]
    for i in range(SOURCES):
        site = sites[i % len(sites)]
        lines += [
            f"  - name: s{i:05d}",
            f"    feed: {site.url}/feed.xml?s={i}",
            "    every: 1m",
            "    allow_private: true",
        ]
    (directory / "sources.yaml").write_text("\n".join(lines) + "\n")
    (directory / "rules.yaml").write_text("rules:\n  - name: probe\n    query: 'zzbenchprobe'\n")
    (directory / "subscribers.yaml").write_text(
        'subscribers:\n  - name: bench\n    notify: ["json://127.0.0.1:9/hook"]\n    rules: [probe]\n'
    )
    (directory / "settings.yaml").write_text(
        "crawl:\n  obey_robots: false\ncluster:\n  crawl_concurrency: 16\n"
    )


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for parent in pids:  # grows while it is walked
        try:
            pids += [int(c) for c in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
        except OSError:
            continue
    return pids


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            continue
    return total / TICK


def _postgres_pids(conn: psycopg.Connection, database: str) -> list[int]:
    return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,))]


def _run(crawlers: int, config_dir: Path, dsn: str, database: str, tmp: Path) -> dict[str, float]:
    args = [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", dsn, "run", "--roles"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start(roles: str, name: str) -> subprocess.Popen:
        log = open(tmp / f"{name}.log", "w")
        return subprocess.Popen([*args, roles], stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)

    procs = [start("scheduler,match,deliver", f"sched-{crawlers}")]
    procs += [start("crawl", f"crawl-{crawlers}-{i}") for i in range(crawlers)]
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            time.sleep(WARMUP)

            def sample() -> tuple[int, float, float, float]:
                polls = conn.execute(
                    "SELECT count(*) FROM crawl_runs WHERE finished_at IS NOT NULL"
                ).fetchone()[0]
                crawl = _cpu_seconds([p for proc in procs[1:] for p in _tree(proc.pid)])
                sched = _cpu_seconds(_tree(procs[0].pid))
                pg = _cpu_seconds(_postgres_pids(conn, database))
                return polls, crawl, sched, pg

            before, started = sample(), time.monotonic()
            time.sleep(WINDOW)
            after, elapsed = sample(), time.monotonic() - started
            lags = [
                r[0]
                for r in conn.execute(
                    "SELECT lag_p95 FROM processes WHERE roles = 'crawl' AND stopped_at IS NULL"
                )
            ]
            oldest = conn.execute(
                "SELECT EXTRACT(EPOCH FROM now()) - min((args->>'due')::float) FROM procrastinate_jobs WHERE status = 'todo'"
            ).fetchone()[0]
            running = conn.execute("SELECT count(*) FROM crawl_runs WHERE status = 'running'").fetchone()[0]
            wall = conn.execute(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at))"
                " FROM crawl_runs WHERE finished_at > now() AT TIME ZONE 'UTC' - make_interval(secs => %s)",
                (WINDOW,),
            ).fetchone()[0]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    polls = max(1, after[0] - before[0])
    return {
        "polls_per_s": (after[0] - before[0]) / elapsed,
        "lag_p95": max((x for x in lags if x is not None), default=float("nan")),
        "oldest_wait": float(oldest or 0.0),
        "cpu_crawl_ms": (after[1] - before[1]) / polls * 1000,
        "cpu_sched_ms": (after[2] - before[2]) / polls * 1000,
        "cpu_pg_ms": (after[3] - before[3]) / polls * 1000,
        "running_at_end": running,
        "poll_wall_p50": float(wall or 0.0),
    }


def main() -> None:
    needed = SOURCES / 60
    print(
        f"{SOURCES} sources every 1m on {HOSTS} loopback hosts (needed: {needed:.1f} polls/s); "
        f"warm-up {WARMUP:.0f}s, window {WINDOW:.0f}s; one scheduler,match,deliver process + C crawl processes"
    )
    print(
        f"{'crawl procs':>11} {'polls/s':>8} {'lag p95':>8} {'oldest':>8} {'CPU/poll: crawl':>16} {'sched':>6} {'pg':>6}"
    )
    sites = [DemoSite(bundled_articles()[:1], host=f"127.0.0.{2 + i}").start() for i in range(HOSTS)]
    admin = _admin_dsn()
    try:
        for crawlers in CRAWLERS:
            database = f"nw_bench_cluster_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{database}"')
            dsn = make_url(admin).set(database=database).render_as_string(hide_password=False)
            try:
                subprocess.run([sys.executable, "-m", "newswatch", "--db", dsn, "db", "upgrade"], check=True, cwd=REPO,
                               capture_output=True)  # fmt: skip
                with tempfile.TemporaryDirectory(prefix="nw-bench-cluster-") as tmp:
                    _write_config(Path(tmp) / "config", sites)
                    r = _run(crawlers, Path(tmp) / "config", dsn, database, Path(tmp))
                print(
                    f"{crawlers:>11} {r['polls_per_s']:8.1f} {r['lag_p95']:7.1f}s {r['oldest_wait']:7.1f}s "
                    f"{r['cpu_crawl_ms']:14.1f}ms {r['cpu_sched_ms']:4.1f}ms {r['cpu_pg_ms']:4.1f}ms {r['poll_wall_p50']:8.2f}s",
                    flush=True,
                )
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        for site in sites:
            site.stop()


if __name__ == "__main__":
    main()
