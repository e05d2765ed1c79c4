"""Source-health alarms for admin subscribers, through the same delivery ledger as alerts.

A source that fails `health.failures_alarm` polls in a row, or brings no new article for
longer than its `silent_after` (default `health.silent_after`), raises one alarm per episode
to every subscriber with `admin: true`; when it is healthy again, one "recovered" message
follows. Alarms are urgent: they go out at once, also to digest subscribers. Each episode
has an `alarm_key` that is UNIQUE per subscriber, so a restart never repeats an alarm, and an
episode is claimed by a conditional update of `sources.alarm_raised_at`: two health checks
running at once (after a poll and on the timer, or in two processes) raise it once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.delivery.outbox import deliveries_for
from newswatch.core.config import Config
from newswatch.core.models import Alert, Source
from newswatch.health import source_health

log = logging.getLogger(__name__)


def raise_source_alarms(session: Session, config: Config, now: datetime) -> int:
    """Return how many alarm alerts were written (with their deliveries); commits."""
    admins = [s for s in config.subscribers if s.admin]
    rows = {s.name: s for s in session.scalars(select(Source))}
    written = 0
    for health in source_health(session, config, now):
        row = rows.get(health.name)
        if row is None:
            continue
        if health.problem and row.alarm_raised_at is None:
            if not _claim(session, row, raise_at=now):
                continue  # another check raised this episode a moment ago
            episode = now.isoformat(timespec="seconds")
            subject = f"newswatch: source {health.name} needs attention"
            message = (
                f"Source '{health.name}' ({health.kind}) is {health.problem}.\n"
                f"Last successful poll: {_when(health.last_success_at)}; "
                f"last new article: {_when(health.last_new_article_at)}.\n"
                "Check `newswatch status` on the server."
            )
            written += _write(session, admins, f"{health.name}:alarm:{episode}", subject, message, now)
            log.warning("source alarm raised: %s", health.problem, extra={"source": health.name})
        elif not health.problem and row.alarm_raised_at is not None:
            raised_at = row.alarm_raised_at
            if not _claim(session, row, raise_at=None):
                continue
            episode = raised_at.isoformat(timespec="seconds")
            subject = f"newswatch: source {health.name} recovered"
            message = f"Source '{health.name}' is healthy again (alarm raised {episode})."
            written += _write(session, admins, f"{health.name}:recovered:{episode}", subject, message, now)
            log.info("source recovered", extra={"source": health.name})
        session.commit()
    return written


def _claim(session: Session, row: Source, *, raise_at: datetime | None) -> bool:
    """Raise (`raise_at` a time) or clear (None) the source's alarm unless another check did
    it first; False then, and this check writes nothing."""
    column = Source.alarm_raised_at
    condition = column.is_(None) if raise_at is not None else column.is_not(None)
    claimed = session.execute(
        update(Source).where(Source.id == row.id, condition).values(alarm_raised_at=raise_at)
    ).rowcount
    session.expire(row, ["alarm_raised_at"])
    return claimed == 1


def _write(session: Session, admins: list, key: str, subject: str, message: str, now: datetime) -> int:
    written = 0
    for subscriber in admins:
        alert = Alert(
            subscriber=subscriber.name,
            kind="health",
            subject=subject,
            message=message,
            alarm_key=key,
            rules=[],
            created_at=now,
            in_digest=False,
        )
        alert.deliveries = deliveries_for(session, subscriber, now)
        try:
            with session.begin_nested():
                session.add(alert)
                session.flush()
            written += 1
        except IntegrityError:
            pass  # this episode was already written (another process, or before a restart)
    return written


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"
