"""`newswatch articles [QUERY]`: search stored articles with the query language."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from newswatch.core.errors import UserError


def parse_since(value: str | None) -> datetime | None:
    """Return the cut-off time for '--since 30d' (None: no cut-off); bad input is a UserError."""
    if value is None:
        return None
    from newswatch.core.models import utcnow
    from newswatch.core.schedules import parse_duration

    try:
        return utcnow() - parse_duration(value)
    except ValueError as exc:
        raise UserError(f"--since: {exc}") from None


def check_source(session, source: str | None) -> None:
    from alerts.rules.archive import known_source

    if source is not None and not known_source(session, source):
        raise UserError(f"--source: no articles from a source named {source!r} are stored")


def bold(text: str, console: Console) -> str:
    """Return rich markup for a snippet whose hits are marked **like this**: bold on a
    terminal, the ** marks kept when the output goes to a file or a pipe."""
    if not console.is_terminal:
        return escape(text)
    parts = text.split("**")
    return "".join(f"[bold]{escape(p)}[/bold]" if i % 2 else escape(p) for i, p in enumerate(parts))


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def articles(
    ctx: typer.Context,
    query: Annotated[
        str | None,
        typer.Argument(metavar="QUERY", help="A query (README 'Query language'); none: newest articles."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="AGE", help="Only articles newer than this, e.g. 30d, 12h."),
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", "-s", metavar="NAME", help="Only this source.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", metavar="N", min=1, help="At most this many articles.")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a listing.")] = False,
) -> None:
    """Search stored articles, newest first: exactly the articles a rule with QUERY would match."""
    from alerts.rules.archive import compile_search, recent, search

    cutoff = parse_since(since)
    if query is not None:
        compile_search(query)  # a malformed query fails before the database is opened
    console = Console(highlight=False, soft_wrap=True)
    shown = 0
    with ctx.obj.read_sessions() as session:
        check_source(session, source)
        if query is None:
            for row in recent(session, cutoff, source, limit):
                shown += 1
                if as_json:
                    print(json.dumps(_row_json(row), ensure_ascii=False))
                else:
                    console.print(
                        f"{when(row.published_at or row.fetched_at)}  {escape(row.source)}  {escape(row.title)}"
                    )
                    console.print(f"    {escape(row.url)}")
        else:
            for hit in search(session, query, cutoff, source, limit):
                shown += 1
                if as_json:
                    out = _row_json(hit)
                    out.update(hits=hit.match.hits, snippet=hit.match.snippet)
                    print(json.dumps(out, ensure_ascii=False))
                else:
                    console.print(
                        f"{when(hit.when)}  {escape(hit.source)}  {bold(hit.title_highlighted, console)}"
                    )
                    console.print(f"    {escape(hit.url)}")
                    if hit.match.snippet != hit.title_highlighted:
                        console.print(f"    {bold(hit.match.snippet, console)}")
    if not shown and not as_json:
        console.print("no matching articles" if query is not None else "no articles stored")


def _row_json(row) -> dict:
    return {
        "id": row.article_id if hasattr(row, "article_id") else row.id,
        "url": row.url,
        "title": row.title,
        "source": row.source,
        "published_at": row.published_at.isoformat() if row.published_at else None,
        "fetched_at": row.fetched_at.isoformat() if row.fetched_at else None,
    }


def register(app: typer.Typer) -> None:
    app.command("articles")(articles)
