"""Failed requests in words: one line per failure for crawl records, and whether it is worth
trying again on the next poll (transient) or not (refused, forbidden, gone, too large)."""

from __future__ import annotations

import scrapy.exceptions as scrapy_exceptions
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as twisted_error

from crawler.ssrf import HostNotFound, RefusedAddress

_TRANSIENT_STATUS = {408, 425, 429}


def _named(*names: str) -> tuple[type[BaseException], ...]:
    return tuple(cls for name in names if (cls := getattr(scrapy_exceptions, name, None)) is not None)


_TIMEOUTS = (
    twisted_error.TimeoutError,
    twisted_error.TCPTimedOutError,
    *_named("DownloadTimeoutError"),
)
_CONNECTION = (
    twisted_error.ConnectError,
    twisted_error.ConnectionLost,
    twisted_error.ConnectionDone,
    twisted_error.DNSLookupError,
    *_named(
        "DownloadConnectionRefusedError",
        "CannotResolveHostError",
        "DownloadFailedError",
        "ResponseDataLossError",
    ),
)
_CANCELLED = _named("DownloadCancelledError")


def is_refusal(failure) -> bool:
    """Whether the request was refused by policy (SSRF guard, robots.txt, size limit): the
    page will never be fetched, so its failure says nothing about the source's health."""
    exc = failure.value
    if isinstance(exc, HttpError):  # a subclass of IgnoreRequest, but the server's answer
        return False
    return (
        isinstance(exc, (RefusedAddress, IgnoreRequest))
        or bool(_CANCELLED and isinstance(exc, _CANCELLED))
        or "max size" in str(exc)
    )


def describe_failure(failure, timeout: float | None = None) -> tuple[str, bool]:
    """Return (message, transient) for a failed request's Failure."""
    exc = failure.value
    request = getattr(failure, "request", None)
    url = request.url if request is not None else "?"
    if isinstance(exc, HttpError):
        response = exc.response
        gave_up = response.request.meta.get("retry_gave_up") if response.request is not None else None
        retries = response.request.meta.get("retry_times", 0) if response.request is not None else 0
        status = response.status
        if gave_up:
            return f"{gave_up}: {response.url}", True
        detail = f" after {retries} retries" if retries else ""
        return f"HTTP {status}{detail}: {response.url}", status in _TRANSIENT_STATUS or status >= 500
    if isinstance(exc, HostNotFound):
        return str(exc), True
    if isinstance(exc, RefusedAddress):
        return str(exc), False
    if isinstance(exc, IgnoreRequest):
        text = str(exc) or "request ignored"
        if "robots.txt" in text:
            return f"forbidden by robots.txt: {url}", False
        return f"{text}: {url}", False
    if _CANCELLED and isinstance(exc, _CANCELLED) or "max size" in str(exc):
        return f"page larger than the download size limit: {url}", False
    if isinstance(exc, _TIMEOUTS):
        limit = f" after {timeout:.0f}s" if timeout else ""
        return f"timed out{limit}: {url}", True
    if isinstance(exc, _CONNECTION):
        return f"connection failed ({type(exc).__name__}: {exc}): {url}", True
    return f"{type(exc).__name__}: {exc}: {url}", True
