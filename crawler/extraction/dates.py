"""Publication dates as timezone-aware UTC datetimes.

Pages and feeds write dates as ISO 8601 (`2019-11-19T08:57:40+01:00`), RFC 822
(`Tue, 19 Nov 2019 07:57:40 GMT`) or loosely (`November 19, 2019 2:57 AM EST`). Every form is
converted to UTC. A date without a timezone is taken as UTC: the page gives no better clue, and a
consistent rule keeps "published" comparable across sources. Implausible years (before 1990 or
after 2100) are treated as absent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_TZ_ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5 * 3600,
    "EDT": -4 * 3600,
    "CST": -6 * 3600,
    "CDT": -5 * 3600,
    "MST": -7 * 3600,
    "MDT": -6 * 3600,
    "PST": -8 * 3600,
    "PDT": -7 * 3600,
    "BST": 3600,
    "CET": 3600,
    "CEST": 2 * 3600,
    "MSK": 3 * 3600,
    "IST": 19800,
    "JST": 9 * 3600,
}
_NUMERIC_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def to_utc(value: datetime) -> datetime:
    """Return `value` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_date(text: str | None) -> datetime | None:
    """Return the UTC datetime written in `text`, or None when it holds no plausible date."""
    if not text or not isinstance(text, str):
        return None
    text = text.strip()
    if not text or len(text) > 80:
        return None
    parsed: datetime | None = None
    if _NUMERIC_DATE.match(text):
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        except ValueError:
            parsed = None
    if parsed is None:
        try:
            from dateutil import parser as dateutil_parser

            # dotted numeric dates (19.11.2019) are European: day first
            dayfirst = bool(re.match(r"^\d{1,2}\.\d{1,2}\.\d{2,4}", text))
            parsed = dateutil_parser.parse(text, tzinfos=_TZ_ABBREVIATIONS, dayfirst=dayfirst)
        except (ValueError, OverflowError, TypeError, dateutil_parser.ParserError):
            return None
    try:
        result = to_utc(parsed)
    except (OverflowError, ValueError):
        return None
    if not 1990 <= result.year <= 2100:
        return None
    return result
