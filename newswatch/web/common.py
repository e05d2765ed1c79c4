"""Small pieces several routers share: a query checked with its column, `since` ages, the
JSON of a search hit, and the feed URL of an entity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from alerts.rules.archive import SearchHit
from alerts.rules.query import QuerySyntaxError, parse_query
from newswatch.core.models import utcnow
from newswatch.core.schedules import parse_duration
from newswatch.web.entities import feed_token
from newswatch.web.errors import ApiError

PLURAL = {"rule": "rules", "subscriber": "subscribers"}


def checked_query(text: str, field: str = "query") -> str:
    """Return `text` when it parses; else a 422 naming the field and the column."""
    try:
        parse_query(text)
    except QuerySyntaxError as exc:
        raise ApiError(422, f"{field}: column {exc.column}: {exc.message}", field, exc.column) from None
    return text


def since_cutoff(value: str | None, field: str = "since") -> datetime | None:
    """Return the time `since` ("30d", "12h") ago; a 422 naming the field when it is not an age."""
    if value is None or value == "":
        return None
    try:
        return utcnow() - parse_duration(value)
    except ValueError as exc:
        raise ApiError(422, f"{field}: {exc}", field) from None


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def hit_json(hit: SearchHit) -> dict[str, Any]:
    return {
        "id": hit.article_id,
        "title": hit.title,
        "url": hit.url,
        "source": hit.source,
        "published_at": iso(hit.published_at),
        "fetched_at": iso(hit.fetched_at),
        "snippet": hit.match.snippet,
        "hits": hit.match.hits,
    }


def feed_url(request: Request, session: Session, kind: str, name: str) -> str:
    """Return the entity's Atom URL with its read-only feed token (never an API token)."""
    token = feed_token(session, kind, name)
    return str(request.url_for(f"{kind}_feed", name=name).include_query_params(token=token))
