"""The poll jobs of APScheduler, one per enabled source (`poll:<name>`), kept in step with the
config: an interval (with 10 % jitter, at most a minute) or a cron schedule, never
overlapping itself, a missed run coalesced into one.

After a start the first round goes out at once, spread over a second (FIRST_POLL_SPREAD):
what was published while the service was down should alert without waiting for a schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from newswatch.core.config import Config
from newswatch.core.schedules import CronSchedule, IntervalSchedule

FIRST_POLL_SPREAD = 1.0  # seconds over which the first polls after start are spread


def sync_poll_jobs(scheduler: BaseScheduler, config: Config, poll: Callable[..., Any]) -> None:
    """Add, change or remove the poll jobs so that they match the config's enabled sources;
    a job whose schedule did not change is left as it is (its next run too)."""
    wanted = {f"poll:{s.name}": s for s in config.sources if s.enabled}
    for job in scheduler.get_jobs():
        if job.id.startswith("poll:") and job.id not in wanted:
            job.remove()
    now = datetime.now(UTC)
    for index, (job_id, source) in enumerate(wanted.items()):
        existing = scheduler.get_job(job_id)
        if existing is not None and getattr(existing, "kwargs", {}).get("every") == source.every:
            continue
        schedule = source.schedule
        kwargs: dict[str, Any] = {
            "id": job_id,
            "max_instances": 1,
            "coalesce": True,
            "replace_existing": True,
            "kwargs": {"name": source.name, "every": source.every},
        }
        if isinstance(schedule, IntervalSchedule):
            seconds = schedule.seconds
            trigger: Any = IntervalTrigger(seconds=seconds, jitter=min(seconds * 0.1, 60), timezone=UTC)
            kwargs["next_run_time"] = now + timedelta(
                seconds=min(seconds, FIRST_POLL_SPREAD) * index / len(wanted)
            )
            kwargs["misfire_grace_time"] = int(max(30, seconds))
        else:
            assert isinstance(schedule, CronSchedule)
            trigger = CronTrigger.from_crontab(schedule.expression, timezone=UTC)
            kwargs["misfire_grace_time"] = 300
        scheduler.add_job(poll, trigger, **kwargs)
