"""`/articles`: the archive searched with the query language (hits highlighted, copies of one
story grouped as "also reported by"), filtered by source and age; `/articles/{id}`: one
article's extracted text, its metadata and the rules it matched, with what hit where.

Search works without JavaScript: a GET form whose URL can be bookmarked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from alerts.rules.archive import known_source, recent, search
from newswatch.core.errors import UserError
from newswatch.core.models import Article, Source
from newswatch.web.common import since_cutoff
from newswatch.web.entities import Entities
from newswatch.web.errors import ApiError
from newswatch.web.pages.base import page_user, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
AGES = [("", "any time"), ("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days"), ("365d", "a year")]


@dataclass
class StoryRow:
    """One story in the results: its newest matching article and the other outlets' copies."""

    first: Any
    snippet: str | None
    also: list[Any] = field(default_factory=list)


@router.get("/articles", response_class=HTMLResponse)
def articles_page(
    request: Request, q: str = "", source: str = "", since: str = "", limit: int = PAGE_SIZE
) -> HTMLResponse:
    context = request.app.state.context
    limit = max(1, min(limit, 500))
    error, field_name, column = None, None, None
    stories: list[StoryRow] = []
    with context.session() as session:
        principal = page_user(request, session)
        sources = list(session.scalars(select(Source.name).order_by(Source.name)))
        try:
            cutoff = since_cutoff(since or None)
            if source and not known_source(session, source):
                raise ApiError(422, f"no articles from a source named {source!r} are stored", "source")
            if q.strip():
                hits = list(search(session, q, cutoff, source or None, limit))
                rows = [(hit, hit.match.snippet) for hit in hits]
            else:
                rows = [(row, None) for row in recent(session, cutoff, source or None, limit)]
            stories = _group_by_story(session, rows)
        except ApiError as exc:
            error, field_name = exc.message, exc.field
        except UserError as exc:  # the query does not parse: "query: column N: …"
            error, field_name = str(exc).removeprefix("query: "), "q"
            column = _column_of(error)
    return render(
        request,
        "articles.html",
        principal,
        title="Articles",
        q=q,
        source=source,
        since=since,
        sources=sources,
        ages=AGES,
        stories=stories,
        error=error,
        error_field=field_name,
        column=column,
        limit=limit,
        more=sum(1 + len(s.also) for s in stories) >= limit,
    )


def _column_of(message: str) -> int | None:
    if message.startswith("column "):
        number = message[len("column ") :].split(":", 1)[0]
        return int(number) if number.isdigit() else None
    return None


def _group_by_story(session, rows: list[tuple[Any, str | None]]) -> list[StoryRow]:
    """Keep the first (newest) article of each story; the others become its "also reported by"."""
    ids = [getattr(row, "article_id", None) or row.id for row, _ in rows]
    story_of = dict(
        session.execute(select(Article.id, Article.story_id).where(Article.id.in_(ids or [0]))).all()
    )
    grouped: dict[Any, StoryRow] = {}
    out: list[StoryRow] = []
    for (row, snippet), article_id in zip(rows, ids, strict=True):
        story = story_of.get(article_id) or ("article", article_id)
        if story in grouped:
            grouped[story].also.append(row)
            continue
        grouped[story] = StoryRow(row, snippet)
        out.append(grouped[story])
    return out


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_page(request: Request, article_id: int) -> HTMLResponse:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        article = session.scalar(
            select(Article)
            .where(Article.id == article_id)
            .options(selectinload(Article.matches), selectinload(Article.source))
        )
        if article is None:
            return render(
                request, "missing.html", principal, 404, title="Not found", what=f"article {article_id}"
            )
        visible = {e.name for e in Entities(session, context, principal, "rule").all()}
        matches = [m for m in sorted(article.matches, key=lambda m: m.rule) if m.rule in visible]
        copies = []
        if article.story_id is not None:
            copies = list(
                session.execute(
                    select(Article.id, Article.title, Article.url, Source.name.label("source"))
                    .join(Source, Source.id == Article.source_id)
                    .where(Article.story_id == article.story_id, Article.id != article.id)
                    .order_by(Article.fetched_at)
                )
            )
        return render(
            request,
            "article.html",
            principal,
            title=article.title or f"Article {article.id}",
            article=article,
            source=article.source.name if article.source else "?",
            matches=matches,
            copies=copies,
        )
