"""The distributed engine: Procrastinate, with its jobs in the deployment's PostgreSQL database.

Chosen by measurement (bench/bench_engines.py, README "Running a cluster"): no broker beside
the database that is already the record of truth, async workers that live on the service's
own asyncio loop (the one Scrapy's reactor runs on, so a crawl process keeps one reactor for
its whole life), and the two locks the contract needs:

    queue "polls"    task newswatch.poll(source, due)
                     queueing_lock "poll:<source>": at most one waiting poll per source (a
                     schedule that fires while one waits is coalesced into it);
                     lock "host:<host>": jobs with the same lock run one at a time, in order,
                     across every process — so a source is never polled twice at once and
                     polls of one host never overlap (the single process's per-host rule)
    queue "match"    task newswatch.match: "new articles are stored" (queueing_lock "match")
    queue "deliver"  task newswatch.deliver: "new deliveries are due" (queueing_lock "deliver")

Match and deliver jobs only wake the processes of those roles earlier; those processes also
look for work every few seconds, so a lost wake-up only delays.

The engine's schema is applied on first use, under an advisory lock (several processes may
start at once), and upgraded with Procrastinate's own migration files when a newer version
is installed; the version applied is kept as a comment on its jobs table.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

log = logging.getLogger("newswatch.cluster")

POLL_TASK, MATCH_TASK, DELIVER_TASK = "newswatch.poll", "newswatch.match", "newswatch.deliver"
POLL_QUEUE, MATCH_QUEUE, DELIVER_QUEUE = "polls", "match", "deliver"
SCHEMA_LOCK_KEY = 7_316_526  # advisory lock while the engine's schema is applied
POOL_SIZE = 6  # connections of the engine per process (workers, their LISTEN, defers)
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


def engine_dsn(database_url: str) -> str:
    """Return a libpq connection string for the SQLAlchemy URL of the database."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def ensure_engine_schema(dsn: str) -> str:
    """Create or upgrade Procrastinate's tables in the database; return what was done."""
    installed = version("procrastinate")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            present = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()[0]
            if not present:
                conn.execute(SchemaManager.get_schema())
                done = f"created (procrastinate {installed})"
            else:
                comment = conn.execute(
                    "SELECT obj_description('procrastinate_jobs'::regclass, 'pg_class')"
                ).fetchone()[0]
                applied = (comment or "").rpartition(" ")[2] or "0"
                done = _upgrade(conn, applied, installed)
            conn.execute(f"COMMENT ON TABLE procrastinate_jobs IS 'newswatch: procrastinate {installed}'")
            return done
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def _upgrade(conn: psycopg.Connection, applied: str, installed: str) -> str:
    """Apply Procrastinate's migration files newer than `applied` (up to `installed`)."""
    if _version_key(applied) >= _version_key(installed):
        return "up to date"
    migrations = sorted(Path(SchemaManager.get_migrations_path()).glob("*.sql"))
    todo = [
        path
        for path in migrations
        if _version_key(applied) < _version_key(path.name.split("_")[0]) <= _version_key(installed)
    ]
    for path in todo:
        conn.execute(path.read_text(encoding="utf-8"))
    return f"upgraded from procrastinate {applied} ({len(todo)} migrations)"


def build_engine(
    dsn: str,
    *,
    run_poll: Callable[[str, float], Awaitable[None]],
    run_match: Callable[[], Awaitable[None]],
    wake_dispatcher: Callable[[], None],
) -> procrastinate.App:
    """Return the engine's app with newswatch's three tasks, calling back into this process."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=dsn, min_size=1, max_size=POOL_SIZE, kwargs=KEEPALIVES
        )
    )

    @app.task(name=POLL_TASK, queue=POLL_QUEUE)
    async def poll(source: str, due: float) -> None:
        await run_poll(source, due)

    @app.task(name=MATCH_TASK, queue=MATCH_QUEUE)
    async def match() -> None:
        await run_match()

    @app.task(name=DELIVER_TASK, queue=DELIVER_QUEUE)
    async def deliver() -> None:
        wake_dispatcher()

    return app


async def defer_once(
    app: procrastinate.App, task: str, queueing_lock: str, lock: str | None = None, **args
) -> bool:
    """Enqueue `task` unless one with the same queueing lock is waiting; return whether it was."""
    try:
        await app.tasks[task].configure(queueing_lock=queueing_lock, lock=lock).defer_async(**args)
        return True
    except AlreadyEnqueued:
        return False
