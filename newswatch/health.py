"""Source health: what `newswatch status` shows and what raises alarms for admins.

A source is *failing* after `health.failures_alarm` failed polls in a row that span at least
that many poll intervals (`failures_alarm - 1` gaps between them): restarts poll every source
at once, and a few quick restarts without a network must not count as a source that failed
for half an hour. It is *silent* when no new article arrived for longer than its
`silent_after` (or `health.silent_after`). Both are computed from the rows the crawler records
(sources, crawl_runs, articles).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from newswatch.core.config import Config
from newswatch.core.config import Source as SourceConfig
from newswatch.core.models import Article, CrawlRun, Delivery, Source, utcnow
from newswatch.core.schedules import CronSchedule, format_duration, parse_duration


@dataclass
class SourceHealth:
    """One source's health, as `newswatch status` prints it."""

    name: str
    kind: str
    enabled: bool
    last_poll_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    new_24h: int
    total_articles: int
    last_new_article_at: datetime | None
    last_error: str | None
    problem: str | None  # "failing" / "silent" text, or None when healthy
    failing_since: datetime | None = None  # the first failed poll since the last success


def source_health(session: Session, config: Config, now: datetime | None = None) -> list[SourceHealth]:
    """Return the health of every configured source, in config order."""
    now = now or utcnow()
    rows = {s.name: s for s in session.scalars(select(Source))}
    day_ago = now - timedelta(hours=24)
    new_by_source = dict(
        session.execute(
            select(Source.name, func.count(Article.id))
            .join(Article, Article.source_id == Source.id)
            .where(Article.fetched_at >= day_ago)
            .group_by(Source.name)
        ).all()
    )
    total_by_source = dict(
        session.execute(
            select(Source.name, func.count(Article.id))
            .join(Article, Article.source_id == Source.id)
            .group_by(Source.name)
        ).all()
    )
    failing_since = dict(
        session.execute(
            select(Source.name, func.min(CrawlRun.started_at))
            .join(CrawlRun, CrawlRun.source_id == Source.id)
            .where(
                CrawlRun.status == "failed",
                or_(Source.last_success_at.is_(None), CrawlRun.started_at > Source.last_success_at),
                Source.consecutive_failures > 0,
            )
            .group_by(Source.name)
        ).all()
    )
    out = []
    for source in config.sources:
        row = rows.get(source.name)
        health = SourceHealth(
            name=source.name,
            kind=source.kind,
            enabled=source.enabled,
            last_poll_at=row.last_poll_at if row else None,
            last_success_at=row.last_success_at if row else None,
            consecutive_failures=row.consecutive_failures if row else 0,
            new_24h=new_by_source.get(source.name, 0),
            total_articles=total_by_source.get(source.name, 0),
            last_new_article_at=row.last_new_article_at if row else None,
            last_error=row.last_error if row else None,
            problem=None,
            failing_since=failing_since.get(source.name),
        )
        health.problem = source_problem(health, config, source, now)
        out.append(health)
    return out


def source_problem(health: SourceHealth, config: Config, source: SourceConfig, now: datetime) -> str | None:
    """Return why a source needs attention, or None."""
    if not health.enabled:
        return None
    threshold = config.settings.health.failures_alarm
    streak_started = health.failing_since or health.last_success_at
    lasted = now - streak_started if streak_started else None
    if health.consecutive_failures >= threshold and (
        lasted is None or lasted >= (threshold - 1) * poll_period(source, now)
    ):
        return f"failing: {health.consecutive_failures} polls in a row" + (
            f" (last error: {health.last_error})" if health.last_error else ""
        )
    silence = parse_duration(source.silent_after or config.settings.health.silent_after)
    since = health.last_new_article_at or health.last_success_at
    if health.last_success_at and since and now - since > silence:
        return f"silent: no new article for {_ago(now - since)}"
    return None


def poll_period(source: SourceConfig, now: datetime) -> timedelta:
    """The time between two polls of `source` (for a cron schedule: its next two runs)."""
    schedule = source.schedule
    if isinstance(schedule, CronSchedule):
        trigger = CronTrigger.from_crontab(schedule.expression, timezone=now.tzinfo)
        first = trigger.get_next_fire_time(None, now)
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
        return second - first if first and second else timedelta(0)
    return timedelta(seconds=schedule.seconds)


def delivery_counts(session: Session) -> dict[str, int]:
    """Return the number of deliveries per status (pending, sent, failed)."""
    counts = dict(
        session.execute(select(Delivery.status, func.count(Delivery.id)).group_by(Delivery.status)).all()
    )
    return {status: counts.get(status, 0) for status in ("pending", "sent", "failed")}


def _ago(delta: timedelta) -> str:
    return format_duration(timedelta(seconds=int(delta.total_seconds())))
