"""Distributed engines on this machine: enqueue-to-start latency and jobs/s of a no-op task.

Candidates (each skipped with a reason where its package or server is missing; install them
with `pip install -e '.[bench-engines]'`):
- Procrastinate on PostgreSQL (jobs in the database newswatch already needs),
- Celery on RabbitMQ (127.0.0.1:5672, guest/guest),
- Dramatiq on Redis (127.0.0.1:6379).

Each engine gets one worker process with 4 concurrent slots (asyncio for Procrastinate,
threads for Celery and Dramatiq), then:
1. latency: LATENCY_JOBS jobs enqueued one by one at LATENCY_RATE/s; p50 / p95 / max of
   (task started − enqueued), measured by the task itself;
2. throughput: THROUGHPUT_JOBS jobs enqueued as fast as one producer can; jobs/s from the
   first enqueue to the last start, and the producer's own enqueue rate.
PostgreSQL: $NEWSWATCH_BENCH_DATABASE_URL, else $NEWSWATCH_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres (a scratch database is created and dropped).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LATENCY_JOBS = int(os.environ.get("BENCH_ENGINE_LATENCY_JOBS", "300"))
LATENCY_RATE = 100.0
THROUGHPUT_JOBS = int(os.environ.get("BENCH_ENGINE_JOBS", "3000"))
CONCURRENCY = 4
WAIT_LIMIT = 120.0


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _lines(path: Path) -> list[float]:
    try:
        return [float(x) for x in path.read_text().split()]
    except FileNotFoundError:
        return []


def _wait_lines(path: Path, count: int, limit: float = WAIT_LIMIT) -> float | None:
    """Return the monotonic time when `path` held `count` lines (None after `limit` s)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if len(_lines(path)) >= count:
            return time.monotonic()
        time.sleep(0.005)
    return None


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _measure(name: str, enqueue: Callable[[], None], out: Path) -> dict[str, float] | str:
    """Warm up, then the latency and the throughput phases; return the figures."""
    enqueue()
    if _wait_lines(out, 1, 60) is None:
        return "the worker never ran the warm-up job"
    out.write_text("")
    for _ in range(LATENCY_JOBS):
        enqueue()
        time.sleep(1 / LATENCY_RATE)
    if _wait_lines(out, LATENCY_JOBS) is None:
        return f"only {len(_lines(out))} of {LATENCY_JOBS} latency jobs ran"
    latencies = _lines(out)
    out.write_text("")
    started = time.monotonic()
    for _ in range(THROUGHPUT_JOBS):
        enqueue()
    enqueued = time.monotonic()
    finished = _wait_lines(out, THROUGHPUT_JOBS)
    if finished is None:
        return f"only {len(_lines(out))} of {THROUGHPUT_JOBS} throughput jobs ran"
    return {
        "p50_ms": _pct(latencies, 0.5) * 1000,
        "p95_ms": _pct(latencies, 0.95) * 1000,
        "max_ms": max(latencies) * 1000,
        "jobs_per_s": THROUGHPUT_JOBS / (finished - started),
        "enqueue_per_s": THROUGHPUT_JOBS / (enqueued - started),
    }


def _worker(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=REPO, env={**os.environ, **env}, stdout=open(log, "w"), stderr=subprocess.STDOUT
    )


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# ---------------------------------------------------------------------------- the candidates


def bench_procrastinate(tmp: Path) -> dict[str, float] | str:
    try:
        import procrastinate
        import psycopg
    except ImportError as exc:
        return f"not installed ({exc.name})"
    from sqlalchemy.engine import make_url

    base = (
        os.environ.get("NEWSWATCH_BENCH_DATABASE_URL")
        or os.environ.get("NEWSWATCH_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    admin = make_url(base).set(drivername="postgresql", database="postgres")
    name = f"nw_bench_engines_{uuid.uuid4().hex[:8]}"
    admin_dsn = admin.render_as_string(hide_password=False)
    dsn = admin.set(database=name).render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        return f"PostgreSQL unavailable: {exc}".splitlines()[0]
    out = tmp / "procrastinate.out"
    env = {"BENCH_ENGINE_DB": dsn, "BENCH_ENGINE_OUT": str(out)}
    os.environ.update(env)
    worker = None
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                procrastinate.App(connector=procrastinate.PsycopgConnector()).schema_manager.get_schema()
            )
        worker = _worker(
            [sys.executable, "-m", "bench.engine_workers", "procrastinate"],
            {**env, "BENCH_ENGINE_CONCURRENCY": str(CONCURRENCY)},
            tmp / "procrastinate.log",
        )
        from bench import engine_workers

        app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=dsn))
        noop = app.task(name="bench.noop", queue=engine_workers.QUEUE)(engine_workers.record)
        with app.open():
            return _measure("procrastinate", lambda: noop.defer(enqueued=time.time()), out)
    finally:
        if worker is not None:
            _stop(worker)
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_celery(tmp: Path) -> dict[str, float] | str:
    if not _port_open("127.0.0.1", 5672):
        return "no RabbitMQ on 127.0.0.1:5672"
    out, queue = tmp / "celery.out", os.environ["BENCH_ENGINE_QUEUE"]
    os.environ["BENCH_ENGINE_OUT"] = str(out)
    from bench import engine_workers

    if engine_workers.celery_app is None:
        return "not installed (celery)"
    worker = _worker(
        [sys.executable, "-m", "celery", "-A", "bench.engine_workers:celery_app", "worker", "-P", "threads",
         "-c", str(CONCURRENCY), "-Q", queue, "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        {"BENCH_ENGINE_OUT": str(out)},
        tmp / "celery.log",
    )  # fmt: skip
    try:
        noop = engine_workers.celery_noop
        return _measure("celery", lambda: noop.apply_async(args=[time.time()], queue=queue), out)
    finally:
        _stop(worker)


def bench_dramatiq(tmp: Path) -> dict[str, float] | str:
    if not _port_open("127.0.0.1", 6379):
        return "no Redis on 127.0.0.1:6379"
    out, queue = tmp / "dramatiq.out", os.environ["BENCH_ENGINE_QUEUE"]
    os.environ["BENCH_ENGINE_OUT"] = str(out)
    from bench import engine_workers

    if engine_workers.dramatiq_noop is None:
        return "not installed (dramatiq[redis])"
    worker = _worker(
        [sys.executable, "-m", "dramatiq", "bench.engine_workers", "--processes", "1",
         "--threads", str(CONCURRENCY), "--queues", queue],
        {"BENCH_ENGINE_OUT": str(out)},
        tmp / "dramatiq.log",
    )  # fmt: skip
    try:
        noop = engine_workers.dramatiq_noop
        return _measure("dramatiq", lambda: noop.send(time.time()), out)
    finally:
        _stop(worker)


def main() -> None:
    print(
        f"no-op task, 1 worker process x {CONCURRENCY} slots; latency: {LATENCY_JOBS} jobs at "
        f"{LATENCY_RATE:.0f}/s; throughput: {THROUGHPUT_JOBS} jobs from one producer"
    )
    print(f"{'engine':<26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'jobs/s':>8} {'enqueue/s':>10}")
    # One fresh queue name for the run (read by bench.engine_workers when it is imported), so
    # nothing a previous run left in a broker's queue is counted.
    os.environ["BENCH_ENGINE_QUEUE"] = f"nwbench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="nw-bench-engines-") as tmp:
        for label, bench in (
            ("procrastinate/postgresql", bench_procrastinate),
            ("celery/rabbitmq", bench_celery),
            ("dramatiq/redis", bench_dramatiq),
        ):
            result = bench(Path(tmp))
            if isinstance(result, str):
                print(f"{label:<26} skipped: {result}")
            else:
                print(
                    f"{label:<26} {result['p50_ms']:8.1f} {result['p95_ms']:8.1f} {result['max_ms']:8.1f} "
                    f"{result['jobs_per_s']:8.0f} {result['enqueue_per_s']:10.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
