"""The dispatcher: sends pending deliveries through Apprise, one destination per delivery.

Contract (DESIGN "Alert guarantees"):
- At-least-once. A delivery is claimed with a lease (`lease_owner`, `lease_until`) and the
  claim is committed BEFORE the send; the result is committed right AFTER it. A process that
  dies in between leaves a claimed, unsettled delivery whose lease expires, and the next
  dispatcher sends it again — the only way a message can arrive twice.
- Several dispatchers may run: on PostgreSQL the claim is `SELECT … FOR UPDATE SKIP LOCKED`;
  on SQLite an `UPDATE … WHERE status = 'pending' AND lease expired` that only one writer wins.
- A failed send records the attempt, the error (secrets redacted) and the next attempt time:
  exponential backoff from `settings.delivery.backoff_initial`, doubled per attempt, capped at
  `backoff_max`, with jitter (a random 50–100 % of the delay, so a burst of failures spreads
  out). After `max_attempts` the delivery is `failed` and stays visible in `newswatch alerts`.
- The real Apprise URL is never stored: the ledger keeps a redacted form and the URL's sha256;
  the URL is looked up in the current config. A destination that left the config fails at
  once, with an error that says so.
- Apprise is blocking: this is synchronous code the service runs in a worker thread. Each send
  has the socket timeouts of `settings.delivery.timeout`. Apprise's own log lines (which may
  quote URLs) are captured per send, redacted, and kept as the delivery's error — they never
  reach the log handlers as they are.
"""

from __future__ import annotations

import contextvars
import logging
import os
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.delivery.console import register_console_plugin
from alerts.delivery.outbox import destination_key
from alerts.delivery.render import Rendered, Renderer, choose_format, render_notice
from newswatch.core.config import Config, Subscriber
from newswatch.core.db import is_postgres
from newswatch.core.models import Alert, Delivery, utcnow
from newswatch.core.redact import redact_text, redact_url
from newswatch.core.schedules import DailyDigest, parse_duration

log = logging.getLogger(__name__)

MAX_ERROR = 1000
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class SendOutcome:
    """What one Apprise send came to."""

    ok: bool
    error: str | None = None
    seconds: float = 0.0


def backoff_delay(
    attempts: int, initial: timedelta, cap: timedelta, rng: random.Random | None = None
) -> timedelta:
    """Return the wait before the next try after `attempts` failures: initial·2^(n-1), capped,
    then scaled by a random factor in [0.5, 1.0] (jitter)."""
    exponent = max(0, attempts - 1)
    base = min(cap.total_seconds(), initial.total_seconds() * (2 ** min(exponent, 60)))
    factor = (rng or random).uniform(0.5, 1.0)
    return timedelta(seconds=base * factor)


class Dispatcher:
    """Claims due deliveries, sends each through Apprise and settles it (see module contract)."""

    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        *,
        owner: str | None = None,
        renderer: Renderer | None = None,
        sender: Callable[[str, Rendered], SendOutcome] | None = None,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.owner = owner or f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        delivery = config.settings.delivery
        self.max_attempts = delivery.max_attempts
        self.backoff_initial = parse_duration(delivery.backoff_initial)
        self.backoff_max = parse_duration(delivery.backoff_max)
        self.timeout = parse_duration(delivery.timeout)
        # A lease shorter than a send could let a second dispatcher take a message still in flight.
        self.lease = max(parse_duration(delivery.lease), self.timeout * 2 + timedelta(seconds=5))
        templates = config.settings.templates
        templates_dir = (config.directory / templates) if templates else None
        self.renderer = renderer or Renderer(templates_dir=templates_dir, config_dir=config.directory)
        self.sender = sender or self._send_with_apprise
        register_console_plugin()

    # ------------------------------------------------------------------ the loop

    def run_once(self, now: datetime | None = None, limit: int = DEFAULT_LIMIT) -> int:
        """Return how many deliveries were attempted: claim, send and settle up to `limit` due ones."""
        attempted = 0
        while attempted < limit:
            moment = now or utcnow()
            delivery_id = self._claim(moment)
            if delivery_id is None:
                break
            attempted += 1
            self._deliver(delivery_id, moment, fixed_now=now)
        return attempted

    def next_due(self) -> datetime | None:
        """Return when the earliest pending delivery becomes due (None: nothing pending)."""
        with self.sessions() as session:
            return session.scalar(
                select(func.min(Delivery.next_attempt_at)).where(Delivery.status == "pending")
            )

    # ------------------------------------------------------------------ claim / settle

    def _claim(self, now: datetime) -> int | None:
        """Return the id of one due delivery now leased to us (committed), or None."""
        due = and_(
            Delivery.status == "pending",
            Delivery.next_attempt_at <= now,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
        )
        with self.sessions() as session:
            postgres = is_postgres(session.get_bind())
            for _ in range(5):
                query = (
                    select(Delivery.id).where(due).order_by(Delivery.next_attempt_at, Delivery.id).limit(1)
                )
                if postgres:
                    query = query.with_for_update(skip_locked=True)
                candidate = session.scalar(query)
                if candidate is None:
                    session.rollback()
                    return None
                won = session.execute(
                    update(Delivery)
                    .where(Delivery.id == candidate, due)
                    .values(lease_owner=self.owner, lease_until=now + self.lease)
                    .execution_options(synchronize_session=False)
                ).rowcount
                session.commit()
                if won:
                    return candidate
            return None

    def _deliver(self, delivery_id: int, now: datetime, *, fixed_now: datetime | None) -> None:
        with self.sessions() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None:
                return
            attempts = delivery.attempts + 1
            url = self._url_for(delivery)
            if url is None:
                error = (
                    f"destination {delivery.destination} is no longer in subscribers.yaml "
                    f"(subscriber '{delivery.subscriber}'); not sent"
                )
                self._settle(session, delivery, ok=False, error=error, attempts=attempts, now=now, final=True)
                return
            try:
                message = self._render(session, delivery, url)
            except Exception as exc:  # noqa: BLE001 - a broken row must not stop the others
                error = f"cannot build the message: {type(exc).__name__}: {exc}"
                self._settle(session, delivery, ok=False, error=error, attempts=attempts, now=now, final=True)
                log.exception("message not built", extra={"delivery": delivery_id})
                return
            # The claim is committed; nothing of this session may stay open across the send.
            session.commit()
        outcome = self.sender(url, message)
        settle_at = fixed_now or utcnow()
        with self.sessions() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None:
                return
            error = outcome.error
            if outcome.ok and message.template_error:
                error = f"sent with the built-in template because {message.template_error}"
            self._settle(session, delivery, ok=outcome.ok, error=error, attempts=attempts, now=settle_at)
            extra = {
                "delivery": delivery_id,
                "subscriber": delivery.subscriber,
                "destination": delivery.destination,
                "attempt": attempts,
                "seconds": round(outcome.seconds, 3),
            }
            if outcome.ok:
                log.info("delivered", extra=extra)
            elif delivery.status == "failed":
                log.error("delivery failed for good: %s", delivery.last_error, extra=extra)
            else:
                log.warning(
                    "delivery failed, will retry at %s: %s",
                    delivery.next_attempt_at.isoformat(timespec="seconds"),
                    delivery.last_error,
                    extra=extra,
                )

    def _settle(
        self,
        session: Session,
        delivery: Delivery,
        *,
        ok: bool,
        error: str | None,
        attempts: int,
        now: datetime,
        final: bool = False,
    ) -> None:
        """Commit the result of one attempt, unless our lease was lost to another dispatcher."""
        values: dict[str, Any] = {"attempts": attempts, "lease_owner": None, "lease_until": None}
        if ok:
            values.update(status="sent", sent_at=now, last_error=_clip(error) if error else None)
        else:
            values["last_error"] = _clip(error or "failed (no reason given)")
            if final or attempts >= self.max_attempts:
                values["status"] = "failed"
            else:
                values["next_attempt_at"] = now + backoff_delay(
                    attempts, self.backoff_initial, self.backoff_max
                )
        won = session.execute(
            update(Delivery)
            .where(
                Delivery.id == delivery.id, Delivery.lease_owner == self.owner, Delivery.status == "pending"
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        if not won:
            log.warning(
                "lease lost before the result was recorded (another dispatcher took over)",
                extra={"delivery": delivery.id, "destination": delivery.destination},
            )
        session.refresh(delivery)

    # ------------------------------------------------------------------ content

    def _subscriber(self, name: str) -> Subscriber | None:
        for subscriber in self.config.subscribers:
            if subscriber.name == name:
                return subscriber
        return None

    def _url_for(self, delivery: Delivery) -> str | None:
        subscriber = self._subscriber(delivery.subscriber)
        if subscriber is None:
            return None
        for url in subscriber.notify:
            if destination_key(url) == delivery.destination_key:
                return url
        return None

    def _render(self, session: Session, delivery: Delivery, url: str) -> Rendered:
        from alerts.delivery.digests import digest_items
        from alerts.delivery.ledger import alert_item

        subscriber = self._subscriber(delivery.subscriber)
        assert subscriber is not None
        fmt = choose_format(subscriber.format, _service_formats(url))
        schedule = subscriber.digest_schedule
        tz = schedule.tz if isinstance(schedule, DailyDigest) else "UTC"
        if delivery.alert_id is not None:
            alert = session.get(Alert, delivery.alert_id)
            if alert is not None and alert.kind == "health":
                return render_notice(alert.subject or "newswatch", alert.message or "", fmt)
            item = alert_item(session, delivery.alert_id)
            return self.renderer.render_alert(
                item, fmt, subscriber=subscriber.name, template=subscriber.template, tz=tz
            )
        items, due_at = digest_items(session, delivery.digest_id)
        return self.renderer.render_digest(
            items, fmt, subscriber=subscriber.name, due_at=due_at, template=subscriber.template, tz=tz
        )

    # ------------------------------------------------------------------ Apprise

    def _send_with_apprise(self, url: str, message: Rendered) -> SendOutcome:
        return send_with_apprise(url, message, timeout=self.timeout.total_seconds())


@lru_cache(maxsize=256)
def _service_formats(url: str) -> object:
    from newswatch.core.config import quiet_apprise_instantiate

    service = quiet_apprise_instantiate(url)
    return getattr(service, "notify_format", "text") if service else "text"


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
    import apprise

    register_console_plugin()
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
    return SendOutcome(ok, redact_text(error_text, secrets) if error_text else None, seconds)


def _instantiate(url: str) -> Any:
    from newswatch.core.config import quiet_apprise_instantiate

    return quiet_apprise_instantiate(url)


@lru_cache(maxsize=256)
def url_secrets(url: str) -> tuple[str, ...]:
    """Return the parts of `url` that Apprise's privacy form hides (passwords, tokens, keys)."""
    from urllib.parse import unquote

    service = _instantiate(url)
    shown = service.url(privacy=True) if service else ""
    pieces = set(re.split(r"[:/@?&=#,;+\s]+", url)) | {unquote(p) for p in re.split(r"[:/@?&=#,;+\s]+", url)}
    visible = set(re.split(r"[:/@?&=#,;+\s]+", shown)) | {
        unquote(p) for p in re.split(r"[:/@?&=#,;+\s]+", shown)
    }
    scheme = url.split("://", 1)[0]
    return tuple(sorted(p for p in pieces - visible if len(p) >= 3 and p != scheme))


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def dispatch_until_idle(
    dispatcher: Dispatcher, *, max_seconds: float = 60.0, limit: int = DEFAULT_LIMIT
) -> int:
    """Return deliveries attempted by running `run_once` until nothing is due (bounded in time)."""
    deadline = time.monotonic() + max_seconds
    total = 0
    while time.monotonic() < deadline:
        attempted = dispatcher.run_once(limit=limit)
        total += attempted
        if attempted == 0:
            break
    return total


def templates_problems(config: Config) -> list[str]:
    """Return one line per user template that cannot render (checked with a sample alert)."""
    from alerts.delivery.render import FORMATS, TemplateProblem, check_template_file

    problems = []
    paths: list[tuple[Path, str]] = []
    for subscriber in config.subscribers:
        if subscriber.template:
            path = Path(subscriber.template)
            path = path if path.is_absolute() else config.directory / path
            fmt = subscriber.format or ("html" if path.name.endswith((".html", ".html.j2")) else "markdown")
            paths.append((path, fmt))
    if config.settings.templates:
        folder = config.directory / config.settings.templates
        for fmt in FORMATS:
            ext = {"markdown": "md", "html": "html", "text": "txt"}[fmt]
            for kind in ("alert", "digest"):
                if (folder / f"{kind}.{ext}.j2").is_file():
                    paths.append((folder / f"{kind}.{ext}.j2", fmt))
    for path, fmt in paths:
        try:
            check_template_file(path, fmt)
        except TemplateProblem as exc:
            problems.append(str(exc))
    return problems
