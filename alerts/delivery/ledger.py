"""Reading and repairing the delivery ledger: what `newswatch alerts` shows and `retry` does.

Everything shown here is already redacted in the database (deliveries keep the redacted
destination and a redacted last error); the real Apprise URLs live only in the config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from alerts.delivery.render import AlertItem, Sighting
from newswatch.core.models import Alert, AlertSighting, Article, Delivery, Digest, Match, utcnow


def alert_item(session: Session, alert_id: int) -> AlertItem:
    """Return what the templates show about alert `alert_id` (article, snippet, sightings)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise LookupError(f"alert {alert_id} not found")
    article = alert.article
    matches = {
        m.rule: m
        for m in session.scalars(
            select(Match).where(Match.article_id == article.id, Match.rule.in_(alert.rules or []))
        )
    }
    snippets = merge_snippets(
        [" ".join((matches[rule].snippet or "").split()) for rule in alert.rules if rule in matches]
    )
    sightings = session.execute(
        select(Article)
        .join(AlertSighting, AlertSighting.article_id == Article.id)
        .where(AlertSighting.alert_id == alert.id)
        .order_by(AlertSighting.created_at, AlertSighting.id)
    ).scalars()
    return AlertItem(
        id=alert.id,
        title=" ".join((article.title or "").split()) or article.url,
        url=article.url,
        source=article.source.name,
        published_at=article.published_at,
        rules=list(alert.rules or []),
        snippet=join_snippets(snippets[:2]),
        hits={rule: dict(m.hits or {}) for rule, m in matches.items()},
        also_reported_by=[
            Sighting(a.source.name, " ".join((a.title or "").split()), a.url) for a in sightings
        ],
        created_at=alert.created_at,
    )


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def merge_snippets(snippets: list[str]) -> list[str]:
    """Return the distinct passages of an alert's rules' snippets, every rule's hits in bold.

    Snippets of different rules often show the same passage in slightly different windows;
    a snippet sharing a run of OVERLAP_WORDS words with an earlier one is the same passage
    and is dropped (its hits are still highlighted in the one kept)."""
    kept: list[str] = []
    bold: set[str] = set()
    for snippet in snippets:
        if not snippet:
            continue
        plain = _BOLD.sub(r"\1", snippet)
        bold |= set(_BOLD.findall(snippet))
        if not any(_same_passage(plain, other) for other in kept):
            kept.append(plain)
    if not bold:
        return kept
    pattern = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(w) for w in sorted(bold, key=len, reverse=True)) + r")(?!\w)"
    )
    return [pattern.sub(r"**\1**", text) for text in kept]


OVERLAP_WORDS = 6


def _same_passage(a: str, b: str) -> bool:
    words_a, words_b = a.split(), b.split()
    if len(words_a) < OVERLAP_WORDS or len(words_b) < OVERLAP_WORDS:
        return a == b
    runs = {tuple(words_a[i : i + OVERLAP_WORDS]) for i in range(len(words_a) - OVERLAP_WORDS + 1)}
    return any(tuple(words_b[i : i + OVERLAP_WORDS]) in runs for i in range(len(words_b) - OVERLAP_WORDS + 1))


def join_snippets(snippets: list[str]) -> str:
    """Return the passages as one snippet, one ellipsis between them (not two)."""
    parts = [s.strip() for s in snippets if s.strip()]
    for i in range(len(parts) - 1):
        parts[i] = parts[i].removesuffix("…").rstrip()
        parts[i + 1] = parts[i + 1].removeprefix("…").lstrip()
    return " … ".join(parts)


@dataclass
class LedgerEntry:
    """One alert or digest with its deliveries, for `newswatch alerts`."""

    kind: str  # alert | digest
    id: int
    created_at: datetime
    subscriber: str
    rules: list[str]
    title: str
    deliveries: list[Delivery] = field(default_factory=list)
    waiting_for_digest: bool = False
    digest_id: int | None = None
    stories: int = 0


def ledger(
    session: Session,
    *,
    failed: bool = False,
    pending: bool = False,
    subscriber: str | None = None,
    limit: int = 20,
) -> list[LedgerEntry]:
    """Return the newest alerts and digests (newest first), filtered by delivery state."""
    wanted = [s for s, on in (("failed", failed), ("pending", pending)) if on]
    alerts_q = select(Alert).options(selectinload(Alert.deliveries), selectinload(Alert.article))
    digests_q = select(Digest)
    if subscriber:
        alerts_q = alerts_q.where(Alert.subscriber == subscriber)
        digests_q = digests_q.where(Digest.subscriber == subscriber)
    if wanted:
        alerts_q = alerts_q.where(Alert.deliveries.any(Delivery.status.in_(wanted)))
        digest_ids = select(Delivery.digest_id).where(
            Delivery.digest_id.is_not(None), Delivery.status.in_(wanted)
        )
        digests_q = digests_q.where(Digest.id.in_(digest_ids))
    alerts = session.scalars(alerts_q.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)).all()
    digests = session.scalars(
        digests_q.order_by(Digest.created_at.desc(), Digest.id.desc()).limit(limit)
    ).all()
    entries = [
        LedgerEntry(
            kind="alert",
            id=a.id,
            created_at=a.created_at,
            subscriber=a.subscriber,
            rules=list(a.rules or []),
            title=_alert_title(a),
            deliveries=sorted(a.deliveries, key=lambda d: d.id),
            waiting_for_digest=not a.deliveries and a.digest_id is None,
            digest_id=a.digest_id,
        )
        for a in alerts
    ]
    for digest in digests:
        members = session.scalars(select(Alert).where(Alert.digest_id == digest.id)).all()
        rules: list[str] = []
        for member in members:
            rules.extend(r for r in member.rules or [] if r not in rules)
        count = len(members)
        entries.append(
            LedgerEntry(
                kind="digest",
                id=digest.id,
                created_at=digest.created_at,
                subscriber=digest.subscriber,
                rules=rules,
                title=f"digest due {digest.due_at:%Y-%m-%d %H:%M} UTC: {count} {'story' if count == 1 else 'stories'}",
                deliveries=list(
                    session.scalars(
                        select(Delivery).where(Delivery.digest_id == digest.id).order_by(Delivery.id)
                    )
                ),
                stories=count,
            )
        )
    entries.sort(key=lambda e: (e.created_at, e.id), reverse=True)
    return entries[:limit]


@dataclass
class RetryResult:
    """What `retry` changed: re-queued deliveries, and those left alone (sent, or being sent)."""

    requeued: list[Delivery]
    already_sent: list[Delivery]
    in_flight: list[Delivery] = field(default_factory=list)


def retry(
    session: Session,
    *,
    alert_id: int | None = None,
    delivery_id: int | None = None,
    digest_id: int | None = None,
    now: datetime | None = None,
) -> RetryResult:
    """Re-queue the unsent deliveries of an alert / digest, or one delivery: due now, attempts
    reset. Raise LookupError when the id does not exist. Sent deliveries are never re-sent."""
    now = now or utcnow()
    if delivery_id is not None:
        row = session.get(Delivery, delivery_id)
        if row is None:
            raise LookupError(f"no delivery with id {delivery_id}")
        rows = [row]
    elif alert_id is not None:
        if session.get(Alert, alert_id) is None:
            raise LookupError(f"no alert with id {alert_id}")
        rows = list(
            session.scalars(select(Delivery).where(Delivery.alert_id == alert_id).order_by(Delivery.id))
        )
    elif digest_id is not None:
        if session.get(Digest, digest_id) is None:
            raise LookupError(f"no digest with id {digest_id}")
        rows = list(
            session.scalars(select(Delivery).where(Delivery.digest_id == digest_id).order_by(Delivery.id))
        )
    else:
        raise ValueError("give an alert, digest or delivery id")
    in_flight = [
        d for d in rows if d.status == "pending" and d.lease_until is not None and d.lease_until > now
    ]
    requeue = [d for d in rows if d.status != "sent" and d not in in_flight]
    if requeue:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_([d.id for d in requeue]), Delivery.status != "sent")
            .values(status="pending", attempts=0, next_attempt_at=now, lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    for row in rows:
        session.refresh(row)
    return RetryResult(
        requeued=requeue, already_sent=[d for d in rows if d.status == "sent"], in_flight=in_flight
    )


def _alert_title(alert: Alert) -> str:
    """Return the line `newswatch alerts` shows for an alert: the article, or a health notice."""
    if alert.article is None:
        return alert.subject or f"({alert.kind})"
    return " ".join((alert.article.title or "").split()) or alert.article.url
