"""Downloader middlewares: polite retries, conditional GET, and a robots.txt cache.

- `BackoffRetryMiddleware` replaces Scrapy's RetryMiddleware: a 429 or 5xx (or a connection
  error; a refused connection only once, and robots.txt not at all: the page's own request
  meets the same failure) is retried after a pause — the server's `Retry-After` (seconds or an HTTP date) when
  it sends one, else exponential backoff with jitter (`RETRY_BACKOFF_BASE` × 2ⁿ, at most
  `RETRY_BACKOFF_MAX`). A `Retry-After` longer than `RETRY_AFTER_MAX` is not waited for: the
  request gives up for this poll (the next poll tries again) instead of hammering or stalling.
- `ConditionalGetMiddleware`: requests marked `meta["conditional"]` (feeds, sitemaps,
  listings) carry `If-None-Match` / `If-Modified-Since` from the `http_cache` table, and a
  200's validators are reported to the poll's recorder (crawler.polls) — written only when no
  article of the poll failed to be fetched or stored for a reason that may pass, so such an
  article is rediscovered on the next poll instead of hiding behind a 304.
- `CachedRobotsTxtMiddleware`: Scrapy's robots.txt middleware with a process-wide cache
  (`ROBOTSTXT_CACHE_SECONDS`, default one hour), so repeated polls of a site do not fetch its
  robots.txt every time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import scrapy.exceptions
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message
from twisted.internet.error import ConnectionRefusedError as TwistedConnectionRefused

from crawler import polls, store


def parse_retry_after(value: str | bytes | None, now: datetime | None = None) -> float | None:
    """Return the seconds a `Retry-After` header asks for (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    """Retry 429 / 5xx / connection errors after Retry-After or an exponential backoff."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)
        self.retry_after_max = settings.getfloat("RETRY_AFTER_MAX", 120.0)

    def backoff(self, attempt: int) -> float:
        """Return the pause before retry number `attempt` (1-based), with ±25 % jitter."""
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return delay * random.uniform(0.75, 1.25)

    async def process_response(self, request, response, spider=None):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        asked = parse_retry_after(response.headers.get(b"Retry-After"))
        if asked is not None and asked > self.retry_after_max:
            request.meta["retry_gave_up"] = (
                f"HTTP {response.status} with Retry-After {asked:.0f}s (more than {self.retry_after_max:.0f}s): "
                "not waiting, the next poll tries again"
            )
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        attempt = retry.meta.get("retry_times", 1)
        await asyncio.sleep(asked if asked is not None else self.backoff(attempt))
        return retry

    async def process_exception(self, request, exception, spider=None):
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        if _is_robots_request(request):
            return None  # the page's own request meets the same failure, and is retried
        if isinstance(exception, _REFUSED) and request.meta.get("retry_times", 0) >= 1:
            return None  # nothing listens there: one more try, not a minute of them
        retry = self._retry(request, exception)
        if retry is None:
            return None
        await asyncio.sleep(self.backoff(retry.meta.get("retry_times", 1)))
        return retry


# A refused connection is an answer (nothing listens there), not a glitch worth three retries.
_REFUSED = tuple(
    kind
    for kind in (TwistedConnectionRefused, getattr(scrapy.exceptions, "DownloadConnectionRefusedError", None))
    if kind is not None
)


def _is_robots_request(request) -> bool:
    return bool(request.meta.get("dont_obey_robotstxt")) and urlparse_cached(request).path == "/robots.txt"


class _OneLineRobotsErrors(logging.Filter):
    """Scrapy logs a robots.txt that could not be fetched at ERROR with a traceback of ~65 lines,
    once per poll, although the page's own request fails the same way and the spider reports
    that in one line. The record is kept, as one line at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Error downloading"):
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("scrapy.downloadermiddlewares.robotstxt").addFilter(_OneLineRobotsErrors())


class ConditionalGetMiddleware:
    """Send stored ETag / Last-Modified for discovery pages; report new ones to the poll's recorder."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> ConditionalGetMiddleware:
        return cls(crawler)

    async def process_request(self, request, spider=None) -> None:
        if not request.meta.get("conditional"):
            return None
        for header in (b"If-None-Match", b"If-Modified-Since"):
            request.headers.pop(header, None)
        spider = self.crawler.spider
        validators = await spider.context.db(store.get_validators, request.url)
        if validators:
            etag, last_modified = validators
            if etag:
                request.headers[b"If-None-Match"] = etag
            if last_modified:
                request.headers[b"If-Modified-Since"] = last_modified
        return None

    def process_response(self, request, response, spider=None):
        if request.meta.get("conditional") and response.status == 200:
            etag = response.headers.get(b"ETag")
            last_modified = response.headers.get(b"Last-Modified")
            if etag or last_modified:
                self.crawler.signals.send_catch_log(
                    polls.validators_seen,
                    url=request.url,
                    etag=etag.decode("latin-1") if etag else None,
                    last_modified=last_modified.decode("latin-1") if last_modified else None,
                )
        return response


# netloc → (expires at, parser or None): shared by every crawler in this process.
_ROBOTS_CACHE: dict[str, tuple[float, object]] = {}


class CachedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """RobotsTxtMiddleware whose parsed robots.txt files outlive one crawl (one poll)."""

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self._ttl = crawler.settings.getfloat("ROBOTSTXT_CACHE_SECONDS", 3600.0)

    async def robot_parser(self, request):
        parsed = urlparse_cached(request)
        netloc = parsed.netloc
        key = f"{parsed.scheme}://{netloc}"
        cached = _ROBOTS_CACHE.get(key)
        if netloc not in self._parsers and cached and cached[0] > time.monotonic():
            self._parsers[netloc] = cached[1]
        parser = await super().robot_parser(request)
        if not (cached and cached[0] > time.monotonic()) and parser is not None:
            _ROBOTS_CACHE[key] = (time.monotonic() + self._ttl, parser)
        return parser
