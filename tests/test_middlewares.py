"""Retry timing (crawler/middlewares.py): what a Retry-After header asks for, and backoff."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scrapy.settings import Settings

from crawler.middlewares import BackoffRetryMiddleware, parse_retry_after

NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (b"5", 5.0),
        ("Thu, 01 May 2025 12:01:30 GMT", 90.0),
        ("Thu, 01 May 2025 11:00:00 GMT", 0.0),  # in the past: retry now
        ("", None),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_as_a_date(header, seconds) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    middleware = BackoffRetryMiddleware(Settings({"RETRY_BACKOFF_BASE": 1.0, "RETRY_BACKOFF_MAX": 10.0}))
    for attempt, nominal in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 10.0)):
        for _ in range(20):
            assert 0.75 * nominal <= middleware.backoff(attempt) <= 1.25 * nominal
