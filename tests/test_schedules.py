from datetime import UTC, datetime, time, timedelta

import pytest

from newswatch.core.schedules import (
    CronSchedule,
    DailyDigest,
    EveryDigest,
    IntervalSchedule,
    parse_digest,
    parse_duration,
    parse_every,
)


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("1s", 1),
        ("90s", 90),
        ("10m", 600),
        ("1h30m", 5400),
        ("30d", 2592000),
        ("2w", 1209600),
        (" 24h ", 86400),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "ten minutes", "10x", "-5m", "0s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_every_accepts_intervals_and_cron() -> None:
    assert parse_every("1s") == IntervalSchedule(1)
    assert parse_every("*/15 * * * *") == CronSchedule("*/15 * * * *")
    with pytest.raises(ValueError, match="cron"):
        parse_every("*/15 * * * monday-ish")
    with pytest.raises(ValueError, match="minimum"):
        parse_every("0.5s")


def test_digest_forms() -> None:
    assert parse_digest(None) is None
    assert parse_digest("every 20s") == EveryDigest(20)
    assert parse_digest("daily 08:00") == DailyDigest(time(8, 0), "UTC")
    assert parse_digest("daily 8:30 Europe/Moscow") == DailyDigest(time(8, 30), "Europe/Moscow")
    for bad in ("weekly", "daily 25:00", "daily 08:00 Mars/Olympus", "every soon"):
        with pytest.raises(ValueError):
            parse_digest(bad)


def test_daily_digest_due_times_respect_time_zone() -> None:
    digest = DailyDigest(time(8, 0), "Europe/Moscow")  # UTC+3
    now = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # 09:00 in Moscow: today's 08:00 has passed
    assert digest.previous_due(now) == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert digest.next_due(now) == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def test_every_digest_grid() -> None:
    digest = EveryDigest(3600)
    now = datetime(2026, 3, 1, 6, 15, tzinfo=UTC)
    assert digest.previous_due(now) == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert digest.next_due(now) == datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
