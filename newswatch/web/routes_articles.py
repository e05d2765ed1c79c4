"""`/api/v1/articles` (search the archive with the query language) and `/api/v1/alerts`,
`/api/v1/deliveries/{id}/retry` (the delivery ledger). A user sees only the alerts of their own
subscribers; another user's delivery is a 404."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from alerts.delivery.ledger import retry
from alerts.rules.archive import known_source, recent, search
from newswatch.core.errors import UserError
from newswatch.core.models import Alert, Delivery
from newswatch.web.auth import Principal, current_user, get_session
from newswatch.web.common import checked_query, hit_json, iso, since_cutoff
from newswatch.web.entities import Entities
from newswatch.web.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["articles and alerts"])


@router.get("/articles")
def list_articles(
    q: str | None = Query(default=None, max_length=10_000, description="a query; none: newest articles"),
    since: str | None = Query(default=None, description="only newer than this age, e.g. 30d"),
    source: str | None = None,
    limit: int = Query(default=20, ge=1, le=500),
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> list[dict[str, Any]]:
    """Stored articles, newest first: with `q`, exactly those a rule with that query would match."""
    cutoff = since_cutoff(since)
    if q is not None:
        checked_query(q, "q")
    if source is not None and not known_source(session, source):
        raise ApiError(422, f"source: no articles from a source named {source!r} are stored", "source")
    if q is None:
        return [
            {
                "id": row.id,
                "title": row.title,
                "url": row.url,
                "source": row.source,
                "published_at": iso(row.published_at),
                "fetched_at": iso(row.fetched_at),
                "snippet": " ".join(row.text.split()[:40]),
                "hits": {},
            }
            for row in recent(session, cutoff, source, limit)
        ]
    try:
        return [hit_json(hit) for hit in search(session, q, cutoff, source, limit)]
    except UserError as exc:
        raise ApiError(422, str(exc), "q") from None


def _visible_subscribers(request: Request, session: Session, principal: Principal) -> set[str] | None:
    """The subscriber names whose alerts the principal sees (None: all, for admins)."""
    if principal.is_admin:
        return None
    return {e.name for e in Entities(session, request.app.state.context, principal, "subscriber").all()}


def _delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "destination": d.destination,  # stored redacted
        "status": d.status,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "next_attempt_at": iso(d.next_attempt_at) if d.status == "pending" else None,
        "sent_at": iso(d.sent_at),
    }


def _status(alert: Alert) -> str:
    states = {d.status for d in alert.deliveries}
    if "failed" in states:
        return "failed"
    if "pending" in states or not states:
        return "pending"
    return "sent"


@router.get("/alerts")
def list_alerts(
    request: Request,
    status: Literal["pending", "sent", "failed"] | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> list[dict[str, Any]]:
    """The newest alerts (with a delivery in `status`, when given) and their deliveries."""
    statement = select(Alert).options(selectinload(Alert.deliveries), selectinload(Alert.article))
    visible = _visible_subscribers(request, session, principal)
    if visible is not None:
        statement = statement.where(Alert.subscriber.in_(sorted(visible) or [""]))
    if status is not None:
        statement = statement.where(Alert.deliveries.any(Delivery.status == status))
    alerts = session.scalars(statement.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit))
    out = []
    for alert in alerts:
        article = alert.article
        out.append(
            {
                "id": alert.id,
                "kind": alert.kind,
                "subscriber": alert.subscriber,
                "rules": list(alert.rules or []),
                "created_at": iso(alert.created_at),
                "status": _status(alert),
                "title": article.title if article else alert.subject,
                "url": article.url if article else None,
                "article_id": alert.article_id,
                "story_id": alert.story_id,
                "in_digest": alert.digest_id is not None,
                "deliveries": [_delivery_json(d) for d in sorted(alert.deliveries, key=lambda d: d.id)],
            }
        )
    return out


@router.post("/deliveries/{delivery_id}/retry")
def retry_delivery(
    delivery_id: int,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> dict[str, Any]:
    """Send a failed (or still pending) delivery again now, its attempts counted afresh."""
    delivery = session.get(Delivery, delivery_id)
    visible = _visible_subscribers(request, session, principal)
    if delivery is None or (visible is not None and delivery.subscriber not in visible):
        raise ApiError(404, f"no delivery {delivery_id}")
    result = retry(session, delivery_id=delivery_id)
    session.commit()
    if not result.requeued:
        raise ApiError(409, f"delivery {delivery_id} was already sent or is being sent now")
    return _delivery_json(result.requeued[0])
