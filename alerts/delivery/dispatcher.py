"""The dispatcher: sends pending deliveries through Apprise, one destination per delivery.

Contract (README, "Alerts and delivery"):
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

import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.delivery.channels import SendOutcome, preferred_format, send_with_apprise
from alerts.delivery.digests import digest_items
from alerts.delivery.ledger import alert_item
from alerts.delivery.outbox import destination_key, legacy_destination_key
from alerts.delivery.render import (
    Rendered,
    Renderer,
    choose_format,
    render_notice,
)
from newswatch.core.config import Config, Subscriber
from newswatch.core.db import is_postgres
from newswatch.core.entity_store import installation_secret
from newswatch.core.models import Alert, Delivery, utcnow
from newswatch.core.schedules import DailyDigest, parse_duration

log = logging.getLogger(__name__)

MAX_ERROR = 1000
DEFAULT_LIMIT = 100


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

    # ------------------------------------------------------------------ the loop

    def run_once(
        self,
        now: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        *,
        due_only: bool = True,
        tried: set[int] | None = None,
    ) -> int:
        """Return how many deliveries were attempted: claim, send and settle up to `limit` due ones.

        With `due_only=False` a pending delivery waiting for its next attempt is sent now too
        (`newswatch alerts send`), each once per `tried` set (so a failure is not retried at once)."""
        attempted = 0
        tried = set() if tried is None else tried
        while attempted < limit:
            moment = now or utcnow()
            delivery_id = self._claim(moment, due_only=due_only, tried=tried)
            if delivery_id is None:
                break
            tried.add(delivery_id)
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

    def _claim(self, now: datetime, *, due_only: bool = True, tried: set[int] = frozenset()) -> int | None:
        """Return the id of one due delivery now leased to us (committed), or None."""
        due = and_(
            Delivery.status == "pending",
            Delivery.next_attempt_at <= now if due_only else Delivery.id.not_in(tried),
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
            url = self._url_for(session, delivery)
            if url is None:
                error = (
                    f"destination {delivery.destination} is no longer in subscribers.yaml "
                    f"(subscriber '{delivery.subscriber}'); not sent"
                )
                self._settle(session, delivery, ok=False, error=error, attempts=attempts, now=now, final=True)
                return
            try:
                message = self._render(session, delivery, url)
            except Exception as exc:  # a broken row must not stop the others
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

    def _url_for(self, session: Session, delivery: Delivery) -> str | None:
        subscriber = self._subscriber(delivery.subscriber)
        if subscriber is None:
            return None
        secret = installation_secret(session)
        for url in subscriber.notify:
            if delivery.destination_key in (destination_key(url, secret), legacy_destination_key(url)):
                return url
        return None

    def _render(self, session: Session, delivery: Delivery, url: str) -> Rendered:
        subscriber = self._subscriber(delivery.subscriber)
        assert subscriber is not None
        fmt = choose_format(subscriber.format, preferred_format(url))
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


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def dispatch_until_idle(
    dispatcher: Dispatcher, *, max_seconds: float = 60.0, limit: int = DEFAULT_LIMIT, due_only: bool = True
) -> int:
    """Return deliveries attempted by running `run_once` until nothing is due (bounded in time);
    with `due_only=False`, every pending delivery is attempted once, due or not."""
    deadline = time.monotonic() + max_seconds
    total = 0
    tried: set[int] = set()
    while time.monotonic() < deadline:
        attempted = dispatcher.run_once(limit=limit, due_only=due_only, tried=tried)
        total += attempted
        if attempted == 0:
            break
    return total
