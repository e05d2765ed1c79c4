"""Durations and schedules as users write them in the config.

    every:   "1s" … "10m", "1h", "1h30m", or a 5-field cron expression ("*/15 * * * *")
    digest:  null (instant), "every 1h", "every 20s", "daily 08:00", "daily 08:00 Europe/Moscow"
    since / backfill / retention: "90s", "10m", "24h", "30d", "2w"

Every parser raises ValueError with a sentence a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Longer than anyone means, and far below what timedelta and the schedulers can hold.
MAX_DURATION_SECONDS = 10 * 366 * 86400
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> timedelta:
    """Return the timedelta for '90s', '10m', '24h', '1h30m', '30d', '2w'."""
    compact = str(text).strip().lower().replace(" ", "")
    if not _DURATION.match(compact):
        raise ValueError(f"cannot parse {text!r} as a duration (use e.g. 30s, 10m, 1h, 24h, 30d)")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(compact))
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"duration {text!r} is longer than the maximum of 10 years")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class IntervalSchedule:
    """Poll every `seconds` seconds."""

    seconds: float

    def describe(self) -> str:
        return f"every {format_duration(timedelta(seconds=self.seconds))}"


@dataclass(frozen=True)
class CronSchedule:
    """Poll on a 5-field crontab expression (minute hour day month weekday), in UTC."""

    expression: str

    def describe(self) -> str:
        return f"cron {self.expression}"


Schedule = IntervalSchedule | CronSchedule


def parse_every(text: str) -> Schedule:
    """Return the schedule of a source's `every:` value (interval of at least 1s, or cron)."""
    value = str(text).strip()
    if len(value.split()) == 5:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone=UTC)
        except ValueError as exc:
            raise ValueError(f"cannot parse {value!r} as a cron expression: {exc}") from None
        return CronSchedule(value)
    try:
        delta = parse_duration(value)
    except ValueError:
        raise ValueError(
            f"cannot parse {value!r} as an interval (use 1s … 10m, 1h, or a cron expression like '*/15 * * * *')"
        ) from None
    if delta.total_seconds() < 1:
        raise ValueError(f"interval {value!r} is shorter than the minimum of 1s")
    return IntervalSchedule(delta.total_seconds())


@dataclass(frozen=True)
class EveryDigest:
    """Send collected alerts every `seconds` seconds."""

    seconds: float

    def describe(self) -> str:
        return f"every {format_duration(timedelta(seconds=self.seconds))}"

    def next_due(self, after: datetime) -> datetime:
        """Return the first due time strictly after `after` on the fixed grid since the epoch."""
        epoch = after.timestamp()
        slot = (int(epoch // self.seconds) + 1) * self.seconds
        return datetime.fromtimestamp(slot, tz=UTC)

    def previous_due(self, at: datetime) -> datetime:
        """Return the latest due time at or before `at`."""
        epoch = at.timestamp()
        slot = int(epoch // self.seconds) * self.seconds
        return datetime.fromtimestamp(slot, tz=UTC)


@dataclass(frozen=True)
class DailyDigest:
    """Send collected alerts once a day at `at` in time zone `tz`."""

    at: time
    tz: str = "UTC"

    def describe(self) -> str:
        return f"daily {self.at.strftime('%H:%M')} {self.tz}"

    def _on(self, day: datetime) -> datetime:
        zone = ZoneInfo(self.tz)
        local = datetime.combine(day.date(), self.at, tzinfo=zone)
        return local.astimezone(UTC)

    def next_due(self, after: datetime) -> datetime:
        local_now = after.astimezone(ZoneInfo(self.tz))
        candidate = self._on(local_now)
        if candidate <= after:
            candidate = self._on(local_now + timedelta(days=1))
        return candidate

    def previous_due(self, at: datetime) -> datetime:
        local_now = at.astimezone(ZoneInfo(self.tz))
        candidate = self._on(local_now)
        if candidate > at:
            candidate = self._on(local_now - timedelta(days=1))
        return candidate


DigestSchedule = EveryDigest | DailyDigest

_DAILY = re.compile(r"^daily\s+(\d{1,2}):(\d{2})(?:\s+(\S+))?$", re.IGNORECASE)
_EVERY = re.compile(r"^every\s+(.+)$", re.IGNORECASE)


def parse_digest(text: str | None) -> DigestSchedule | None:
    """Return the digest schedule for a subscriber's `digest:` value; None means instant alerts."""
    if text is None:
        return None
    value = str(text).strip()
    if value.lower() in ("", "null", "none", "instant"):
        return None
    if m := _EVERY.match(value):
        try:
            delta = parse_duration(m.group(1))
        except ValueError as exc:
            raise ValueError(f"digest {value!r}: {exc}") from None
        if delta.total_seconds() < 1:
            raise ValueError(f"digest {value!r} is shorter than the minimum of 1s")
        return EveryDigest(delta.total_seconds())
    if m := _DAILY.match(value):
        hour, minute, tz = int(m.group(1)), int(m.group(2)), m.group(3) or "UTC"
        if hour > 23 or minute > 59:
            raise ValueError(f"digest {value!r}: {hour:02d}:{minute:02d} is not a time of day")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"digest {value!r}: unknown time zone {tz!r} (use e.g. UTC, Europe/Moscow)"
            ) from None
        return DailyDigest(time(hour, minute), tz)
    raise ValueError(
        f"cannot parse digest {value!r} (use null for instant alerts, 'every 1h', or 'daily 08:00 [Time/Zone]')"
    )


def format_duration(delta: timedelta) -> str:
    """Return a compact human form: 90s -> '1m30s', 86400s -> '1d'."""
    seconds = int(round(delta.total_seconds()))
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out)
