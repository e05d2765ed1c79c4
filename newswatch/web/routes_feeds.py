"""`/feeds/rules/{name}.atom?token=T` and `/feeds/subscribers/{name}.atom?token=T`: read-only
Atom feeds opened by the entity's own feed token (never an API token). A wrong token answers
404, as for an unknown name. A stored entity's feed lists only what matched after it was made,
so an entity made later under an old name does not inherit its predecessor's matches."""

from __future__ import annotations

import hmac
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from newswatch.core.models import Alert, Article, Match, Source
from newswatch.core.runtime_models import FeedToken, ManagedEntity
from newswatch.web.atom import FeedEntry, render_atom
from newswatch.web.auth import get_session
from newswatch.web.errors import ApiError

router = APIRouter(prefix="/feeds", tags=["feeds"])
ENTRIES = 50
SCANNED = 500  # matches read to find ENTRIES distinct stories


def _check_token(session: Session, kind: str, name: str, token: str) -> datetime | None:
    """Return when the stored entity was made (None for one from the files); 404 on a bad token."""
    stored = session.scalar(select(FeedToken.token).where(FeedToken.kind == kind, FeedToken.name == name))
    if stored is None or not hmac.compare_digest(stored.encode(), token.encode()):
        raise ApiError(404, f"no {kind} feed named {name!r} with this token")
    return session.scalar(
        select(ManagedEntity.created_at).where(ManagedEntity.kind == kind, ManagedEntity.name == name)
    )


def _one_per_story(rows) -> list[FeedEntry]:
    entries: dict[int, FeedEntry] = {}
    for article, source, snippet, rules in rows:
        story = article.story_id if article.story_id is not None else -article.id
        if story in entries:
            continue
        entries[story] = FeedEntry(
            story_id=story,
            title=article.title,
            url=article.url,
            source=source,
            published=article.published_at or article.fetched_at,
            snippet=snippet,
            rules=rules,
        )
        if len(entries) >= ENTRIES:
            break
    return list(entries.values())


def _atom(request: Request, kind: str, name: str, entries: list[FeedEntry]) -> Response:
    self_url = str(request.url)
    body = render_atom(f"urn:newswatch:{kind}:{name}", f"newswatch: {kind} {name}", self_url, entries)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/rules/{name}.atom", name="rule_feed")
def rule_feed(
    name: str, request: Request, token: str = Query(max_length=200), session: Session = Depends(get_session)
) -> Response:
    made = _check_token(session, "rule", name, token)
    statement = (
        select(Article, Source.name, Match.snippet)
        .join(Match, Match.article_id == Article.id)
        .join(Source, Source.id == Article.source_id)
        .where(Match.rule == name)
        .order_by(Match.created_at.desc(), Match.id.desc())
        .limit(SCANNED)
    )
    if made is not None:
        statement = statement.where(Match.created_at >= made)
    rows = [(a, s, snippet, [name]) for a, s, snippet in session.execute(statement)]
    return _atom(request, "rule", name, _one_per_story(rows))


@router.get("/subscribers/{name}.atom", name="subscriber_feed")
def subscriber_feed(
    name: str, request: Request, token: str = Query(max_length=200), session: Session = Depends(get_session)
) -> Response:
    made = _check_token(session, "subscriber", name, token)
    statement = (
        select(Alert, Article, Source.name)
        .join(Article, Article.id == Alert.article_id)
        .join(Source, Source.id == Article.source_id)
        .where(Alert.subscriber == name, Alert.kind == "match")
        .order_by(Alert.created_at.desc(), Alert.id.desc())
        .limit(SCANNED)
    )
    if made is not None:
        statement = statement.where(Alert.created_at >= made)
    found = list(session.execute(statement))
    snippets = _snippets(session, [article.id for _, article, _ in found])
    rows = []
    for alert, article, source in found:
        rules = list(alert.rules or [])
        of_article = snippets.get(article.id, {})
        snippet = next((of_article[r] for r in rules if r in of_article), "")
        rows.append((article, source, snippet, rules))
    return _atom(request, "subscriber", name, _one_per_story(rows))


def _snippets(session: Session, article_ids: list[int]) -> dict[int, dict[str, str]]:
    """Return each article's snippet per matching rule."""
    by_article: dict[int, dict[str, str]] = {}
    for start in range(0, len(article_ids), 500):
        chunk = article_ids[start : start + 500]
        for article_id, rule, snippet in session.execute(
            select(Match.article_id, Match.rule, Match.snippet).where(Match.article_id.in_(chunk))
        ):
            by_article.setdefault(article_id, {})[rule] = snippet
    return by_article
