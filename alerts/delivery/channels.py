"""The one module that talks to Apprise: URL checks, display forms and secrets, the format a
service prefers, and sending with Apprise's log lines captured.

Apprise URLs carry passwords and tokens in the user-info, the host (`tgram://BOTTOKEN/…`), the
path and the query, and Apprise's own log lines quote whole URLs. So nothing here lets a URL
or an Apprise log line out as it is: `redact_url` gives Apprise's privacy form (or only the
scheme), `url_secrets` lists the parts that form hides so free text can be scrubbed of them,
and each send captures Apprise's records and keeps them, redacted, as the delivery's error.

The `console://` scheme (alerts printed to the service's terminal; `console://stderr` for
stderr) is registered with Apprise once, when this module is imported: the default config
uses it so that a fresh `make run` shows alerts without any account.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
from apprise.decorators import notify

from alerts.delivery.render import Rendered
from newswatch.core.redact import WEBHOOK_SCHEMES, display_url, excerpt, redact_text, url_secret_parts

_print_lock = threading.Lock()


@notify(on="console", name="Terminal output")
def _print_to_console(body: str, title: str, notify_type: str, meta: dict, *args, **kwargs) -> bool:
    stream = sys.stderr if (meta.get("host") or "").lower() == "stderr" else sys.stdout
    rule = "─" * 72
    text = f"\n{rule}\n{title}\n{rule}\n{body}\n" if title else f"\n{body}\n"
    with _print_lock:
        stream.write(text)
        stream.flush()
    return True


# ---------------------------------------------------------------------------- URLs


def quiet_instantiate(url: str) -> Any:
    """Return Apprise's plugin object for `url`, or None; Apprise's own log lines (which quote
    the whole URL, secrets included) are suppressed."""
    logger = logging.getLogger("apprise")
    previous = logger.disabled
    logger.disabled = True
    try:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    finally:
        logger.disabled = previous


def url_problem(url: str) -> str | None:
    """Return why Apprise cannot use `url` (secrets redacted), or None when it can."""
    if not isinstance(url, str) or "://" not in url:
        return "not a notification URL (expected scheme://…, e.g. mailto://, json://, tgram://, console://)"
    scheme = url.split("://", 1)[0]
    if quiet_instantiate(url) is None:
        return f"'{scheme}://…' is not a notification URL Apprise recognises (check the scheme and its required parts)"
    return None


def redact_url(url: str) -> str:
    """Return a printable form of an Apprise URL without its secrets: the core's display form
    (generic webhooks as scheme, host and port) of Apprise's privacy form, which also knows
    where each service keeps its tokens (`tgram://BOTTOKEN/…`)."""
    scheme = url.split("://", 1)[0] if "://" in url else "?"
    if scheme.lower() in WEBHOOK_SCHEMES:
        return display_url(url)
    try:
        service = quiet_instantiate(url)
        if service:
            # Drop Apprise's long tail of default query options; they are noise, not identity.
            return display_url(service.url(privacy=True).split("?", 1)[0])
    except Exception:  # noqa: BLE001 - redaction must never fail
        pass
    return f"{scheme}://***"


_URL_PARTS = re.compile(r"[:/@?&=#,;+\s]+")


@lru_cache(maxsize=256)
def url_secrets(url: str) -> tuple[str, ...]:
    """Return the parts of `url` that Apprise's privacy form hides (passwords, tokens, keys)."""
    service = quiet_instantiate(url)
    shown = service.url(privacy=True) if service else ""

    def parts(text: str) -> set[str]:
        pieces = _URL_PARTS.split(text)
        return set(pieces) | {unquote(p) for p in pieces}

    scheme = url.split("://", 1)[0]
    hidden = {p for p in parts(url) - parts(shown) if len(p) >= 3 and p != scheme}
    # `-name=value` (a GET parameter sent to the service) and `+name=value` (a header) carry
    # keys that Apprise's privacy form still shows.
    query = urlsplit(url).query.replace("+", "%2B")  # parse_qsl reads a bare + as a space
    hidden |= {value for name, value in parse_qsl(query) if name[:1] in "-+" and len(value) >= 3}
    hidden |= set(url_secret_parts(url))
    return tuple(sorted(hidden))


@lru_cache(maxsize=256)
def preferred_format(url: str) -> object:
    """Return the body format the service behind `url` prefers (Apprise's `notify_format`)."""
    service = quiet_instantiate(url)
    return getattr(service, "notify_format", "text") if service else "text"


# ---------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class SendOutcome:
    """What one send did: success, or the redacted reason it failed; how long it took."""

    ok: bool
    error: str | None = None
    seconds: float = 0.0


_active_capture: contextvars.ContextVar[_AppriseCapture | None] = contextvars.ContextVar(
    "newswatch_apprise_capture", default=None
)


class _AppriseCapture(logging.Handler):
    """Collects Apprise's log records of one send. Apprise may run the send on a worker thread
    but carries the caller's context there, so a context variable tells our records apart."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if _active_capture.get() is self:
            self.records.append(record)

    def error_text(self) -> str:
        """Return the warnings and errors, plus the low-level cause Apprise logs at debug level."""
        lines: list[str] = []
        for record in self.records:
            message = record.getMessage().strip()
            if record.levelno < logging.WARNING:
                if not ("Exception" in message or "Response Details" in message):
                    continue
                message = condense_cause(message)
            if message and message not in lines:
                lines.append(message)
        return " | ".join(lines)


_ERRNO = re.compile(r"\[Errno -?\d+\] [^\"')\]]+")
_TIMEOUT = re.compile(r"(?:Read|Connect(?:ion)?) timed out", re.IGNORECASE)


def condense_cause(message: str) -> str:
    """Return the part of a low-level exception text a person needs ('[Errno 111] Connection
    refused', 'Read timed out. (read timeout=1.0)') instead of urllib3's whole chain."""
    found = _ERRNO.findall(message) or _TIMEOUT.findall(message)
    if found:
        return found[-1].strip().rstrip(".,;:( ")
    return message if len(message) <= 300 else message[:299] + "…"


_apprise_logger_lock = threading.Lock()
_apprise_capturing = 0
_apprise_saved: tuple[int, bool] = (logging.NOTSET, True)


def _capture_apprise_logs(capture: _AppriseCapture) -> None:
    """Route Apprise's records to `capture` only: its lines may quote URLs with secrets."""
    global _apprise_capturing, _apprise_saved
    logger = logging.getLogger("apprise")
    with _apprise_logger_lock:
        if _apprise_capturing == 0:
            _apprise_saved = (logger.level, logger.propagate)
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
        _apprise_capturing += 1
        logger.addHandler(capture)


def _release_apprise_logs(capture: _AppriseCapture) -> None:
    global _apprise_capturing
    logger = logging.getLogger("apprise")
    with _apprise_logger_lock:
        logger.removeHandler(capture)
        _apprise_capturing -= 1
        if _apprise_capturing == 0:
            logger.setLevel(_apprise_saved[0])
            logger.propagate = _apprise_saved[1]


def send_with_apprise(url: str, message: Rendered, *, timeout: float) -> SendOutcome:
    """Send one message to one Apprise URL; return success or the redacted reason it failed."""
    secrets = url_secrets(url)
    started = time.monotonic()
    asset = apprise.AppriseAsset(async_mode=False)
    capture = _AppriseCapture()
    token = _active_capture.set(capture)
    _capture_apprise_logs(capture)
    try:
        service = apprise.Apprise.instantiate(url, asset=asset, suppress_exceptions=True)
        if service is None:
            return SendOutcome(False, f"{redact_url(url)}: Apprise cannot use this URL")
        # Our timeout wins unless the URL sets its own (?cto= / ?rto=).
        if "cto=" not in url:
            service.socket_connect_timeout = timeout
        if "rto=" not in url:
            service.socket_read_timeout = timeout
        notifier = apprise.Apprise(asset=asset)
        notifier.add(service)
        ok = bool(notifier.notify(body=message.body, title=message.title, body_format=message.format))
        error_text = None if ok else (capture.error_text() or "the service reported a failure")
    except Exception as exc:  # noqa: BLE001 - a plugin bug is this delivery's error, not the dispatcher's
        ok, error_text = False, f"{type(exc).__name__}: {exc}"
    finally:
        _release_apprise_logs(capture)
        _active_capture.reset(token)
    seconds = time.monotonic() - started
    # A remote server's answer is cut to an excerpt and masked: it may echo what it was sent.
    return SendOutcome(ok, excerpt(redact_text(error_text, secrets), 500) if error_text else None, seconds)
