"""Digests: a digest subscriber's alerts wait, then go out together at the due time.

Contract:
- The outbox writes a digest subscriber's alerts without deliveries. `close_due_digests` takes,
  per digest subscriber, the latest due time at or before now (`previous_due`) and every alert
  still waiting that was written by then, and creates one `Digest` (UNIQUE subscriber + due_at)
  with one `Delivery` per notify URL; the dispatcher then sends it like an alert.
- No empty digests: a due time with nothing waiting creates nothing.
- A digest missed while the service was down goes out on the next call (the service calls this
  on start): all alerts waiting since then go into one digest for the latest due time.
- Two processes closing the same digest: the UNIQUE (subscriber, due_at) lets one win; the
  other rolls its transaction back and moves on. Alerts are taken with
  `UPDATE … WHERE digest_id IS NULL`, so an alert is never in two digests.
- `on_start=True` also sends alerts stranded by a config change (a digest subscriber made
  instant) as one digest, so they are not lost.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.delivery.ledger import alert_item
from alerts.delivery.outbox import deliveries_for
from alerts.delivery.render import AlertItem
from newswatch.core.config import Config, Subscriber
from newswatch.core.models import Alert, Digest, utcnow

log = logging.getLogger(__name__)


def close_due_digests(
    session: Session, config: Config, now: datetime | None = None, *, on_start: bool = False
) -> int:
    """Return how many digests were created (each with its deliveries), one commit per digest."""
    now = now or utcnow()
    created = 0
    for subscriber in config.subscribers:
        schedule = subscriber.digest_schedule
        if schedule is not None:
            due = schedule.previous_due(now)
            created += _close(session, subscriber, due, now)
        elif on_start:
            created += _close(session, subscriber, now, now)
    return created


def _waiting(session: Session, subscriber: str, until: datetime) -> list[int]:
    return list(
        session.scalars(
            select(Alert.id)
            .where(
                Alert.subscriber == subscriber,
                Alert.kind == "match",
                Alert.digest_id.is_(None),
                Alert.created_at <= until,
                ~Alert.deliveries.any(),
            )
            .order_by(Alert.created_at, Alert.id)
        )
    )


def _close(session: Session, subscriber: Subscriber, due: datetime, now: datetime) -> int:
    waiting = _waiting(session, subscriber.name, due)
    if not waiting:
        session.rollback()
        return 0
    digest = Digest(subscriber=subscriber.name, due_at=due, created_at=now)
    try:
        session.add(digest)
        session.flush()
    except IntegrityError:
        # Already closed (by another process, or an alert committed late for a digest that
        # went out): these alerts wait for the next due time.
        session.rollback()
        return 0
    taken = session.execute(
        update(Alert)
        .where(Alert.id.in_(waiting), Alert.digest_id.is_(None))
        .values(digest_id=digest.id, in_digest=True)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        session.rollback()
        return 0
    for delivery in deliveries_for(session, subscriber, now):
        delivery.digest_id = digest.id
        session.add(delivery)
    session.commit()
    log.info(
        "digest closed",
        extra={"subscriber": subscriber.name, "due_at": due.isoformat(timespec="seconds"), "stories": taken},
    )
    return 1


def next_digest_due(config: Config, now: datetime | None = None) -> datetime | None:
    """Return the earliest upcoming due time over all digest subscribers (for the scheduler)."""
    now = now or utcnow()
    times = [s.digest_schedule.next_due(now) for s in config.subscribers if s.digest_schedule is not None]
    return min(times) if times else None


def digest_items(session: Session, digest_id: int | None) -> tuple[list[AlertItem], datetime | None]:
    """Return the stories of a digest (as render items) and its due time."""
    digest = session.get(Digest, digest_id) if digest_id is not None else None
    if digest is None:
        raise LookupError(f"digest {digest_id} not found")
    ids = session.scalars(select(Alert.id).where(Alert.digest_id == digest.id).order_by(Alert.created_at))
    return [alert_item(session, alert_id) for alert_id in ids], digest.due_at
