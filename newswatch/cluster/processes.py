"""Who holds what: the `processes` heartbeat rows, abandoned polls, the engine's queues.

Each process of a deployment writes its own row every BEAT_EVERY seconds (roles, whether it
is the active scheduler, the sources it is polling now, how late its polls started). A row
not rewritten for GONE_AFTER seconds belongs to a process that died; `newswatch status`
shows it as gone, and the scheduler deletes it after FORGET_AFTER.

A poll's `crawl_runs` row says "running" until the poll ends. When the process running it
dies, the scheduler closes it as failed once it is older than ABANDONED_AFTER and no live
process reports that source in flight (and the next poll of the source closes it as well,
crawler.store.begin_poll).

Synchronous functions on a Session: the service runs them in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from newswatch.core.models import CrawlRun, Process, Source, utcnow

BEAT_EVERY = 2.0
GONE_AFTER = timedelta(seconds=10)  # five missed beats
FORGET_AFTER = timedelta(hours=1)
ABANDONED_AFTER = timedelta(seconds=30)
QUEUES = ("polls", "match", "deliver")  # newswatch.cluster.engine's queues, shown even when empty
ABANDONED_MESSAGE = "abandoned: the process running this poll stopped before it finished"


@dataclass
class ProcessReport:
    """What one process says about itself at a heartbeat."""

    id: str
    host: str
    pid: int
    roles: str
    started_at: datetime
    leader: bool = False
    polls_in_flight: tuple[str, ...] = ()
    polls_done: int = 0
    lag_p50: float | None = None
    lag_p95: float | None = None


def beat(session: Session, report: ProcessReport, now: datetime | None = None) -> None:
    """Write this process's row (created at the first beat)."""
    now = now or utcnow()
    values = {
        "host": report.host[:255],
        "pid": report.pid,
        "roles": report.roles,
        "started_at": report.started_at,
        "last_seen": now,
        "leader": report.leader,
        "polls_in_flight": list(report.polls_in_flight),
        "polls_done": report.polls_done,
        "lag_p50": report.lag_p50,
        "lag_p95": report.lag_p95,
        "stopped_at": None,
    }
    if session.execute(update(Process).where(Process.id == report.id).values(**values)).rowcount == 0:
        session.add(Process(id=report.id, **values))


def mark_stopped(session: Session, process_id: str, now: datetime | None = None) -> None:
    """Record a clean stop (the row stays for `newswatch status` until forgotten)."""
    now = now or utcnow()
    session.execute(
        update(Process)
        .where(Process.id == process_id)
        .values(stopped_at=now, last_seen=now, leader=False, polls_in_flight=[])
    )


def is_live(row: Process, now: datetime) -> bool:
    return row.stopped_at is None and now - row.last_seen <= GONE_AFTER


def processes(session: Session) -> list[Process]:
    """Every process row, the active scheduler first, then by host and start."""
    rows = list(session.scalars(select(Process)))
    return sorted(rows, key=lambda r: (not r.leader, r.stopped_at is not None, r.host, r.started_at))


def close_abandoned_polls(session: Session, now: datetime | None = None) -> int:
    """Close "running" polls that no live process runs; return how many."""
    now = now or utcnow()
    in_flight = {
        source
        for row in session.scalars(select(Process))
        if is_live(row, now)
        for source in row.polls_in_flight
    }
    stale = session.execute(
        select(CrawlRun.id, CrawlRun.source_id).where(
            CrawlRun.status == "running", CrawlRun.started_at < now - ABANDONED_AFTER
        )
    ).all()
    if not stale:
        return 0
    names = dict(session.execute(select(Source.id, Source.name)).all())
    ids = [run_id for run_id, source_id in stale if names.get(source_id) not in in_flight]
    if ids:
        session.execute(
            update(CrawlRun)
            .where(CrawlRun.id.in_(ids), CrawlRun.status == "running")
            .values(
                status="failed", finished_at=now, errors=CrawlRun.errors + 1, error_summary=ABANDONED_MESSAGE
            )
        )
    return len(ids)


def forget_old(session: Session, now: datetime | None = None) -> int:
    """Delete the rows of processes gone for longer than FORGET_AFTER; return how many."""
    now = now or utcnow()
    return session.execute(delete(Process).where(Process.last_seen < now - FORGET_AFTER)).rowcount or 0


def queue_depth(session: Session) -> dict[str, dict[str, float]]:
    """Return {queue: {"waiting", "running", "oldest_wait_s"}} from the engine's jobs table
    (oldest_wait_s: how late the longest-waiting poll already is against its schedule)
    (empty when the engine's schema is not there: a deployment that never ran `--roles`)."""
    if session.get_bind().dialect.name != "postgresql":
        return {}
    if not session.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar():
        return {}
    rows = session.execute(
        text(
            "SELECT queue_name, count(*) FILTER (WHERE status = 'todo'), count(*) FILTER (WHERE status = 'doing'),"
            " EXTRACT(EPOCH FROM now()) - min((args->>'due')::float) FILTER (WHERE status = 'todo')"
            " FROM procrastinate_jobs WHERE status IN ('todo', 'doing') GROUP BY queue_name"
        )
    ).all()
    depth = {queue: {"waiting": 0, "running": 0, "oldest_wait_s": 0.0} for queue in QUEUES}
    for queue, waiting, running, oldest in rows:
        depth[queue] = {"waiting": waiting, "running": running, "oldest_wait_s": float(oldest or 0.0)}
    return depth


def process_states(session: Session, now: datetime | None = None) -> list[dict]:
    """Every process row as `newswatch status` shows it (state: running, stopped or gone)."""
    now = now or utcnow()
    out = []
    for row in processes(session):
        state = "stopped" if row.stopped_at else ("running" if is_live(row, now) else "gone")
        out.append(
            {
                "host": row.host,
                "pid": row.pid,
                "roles": row.roles,
                "state": state,
                "leader": bool(row.leader) and state == "running",
                "started_at": row.started_at,
                "last_seen": row.last_seen,
                "polls_in_flight": list(row.polls_in_flight or []) if state == "running" else [],
                "polls_done": row.polls_done,
                "lag_p50_s": row.lag_p50,
                "lag_p95_s": row.lag_p95,
            }
        )
    return out
