"""`newswatch crawl [SOURCE…]`: poll sources once, now, with a live progress display.

Default: every enabled source. The summary table lists per source what was fetched, how many
answers were 304 Not Modified, new articles, duplicates and errors. Exit status 0 when every
source's feed / sitemap / listing was reached, 1 when one could not be (details in the
table's last column and in `newswatch status`), 2 for an unknown source name.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from newswatch.core.errors import UserError


class CrawlProgress:
    """A live display of the polls in progress, fed by CrawlManager's progress callback."""

    def __init__(self, names: list[str], console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.fields[source]}", style="bold"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.tasks = {
            name: self.progress.add_task("", total=None, source=name, status="starting") for name in names
        }
        self.counts = {name: {"new": 0, "duplicates": 0, "errors": 0, "fetched": 0} for name in names}

    def __enter__(self) -> CrawlProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def update(self, event: str, data: dict) -> None:
        name = data.get("source")
        if name not in self.tasks:
            return
        task, counts = self.tasks[name], self.counts[name]
        if event == "discovered":
            self.progress.update(task, total=data.get("articles", 0))
        elif event == "article":
            counts["new" if data.get("outcome") == "new" else "duplicates"] += 1
            self.progress.advance(task)
        elif event == "error":
            counts["errors"] += 1
            if self.progress.tasks[task].total:
                self.progress.advance(task)
        elif event == "fetched":
            counts["fetched"] += 1
        elif event == "poll-finished":
            total = self.progress.tasks[task].total or 0
            self.progress.update(task, total=total, completed=total)
        status = f"fetched {counts['fetched']}  new {counts['new']}  dup {counts['duplicates']}  errors {counts['errors']}"
        self.progress.update(task, status=status)


def summary_table(summaries) -> Table:
    table = Table(title="crawl", title_justify="left")
    for column in ("source", "fetched", "304", "new", "duplicates", "errors"):
        table.add_column(column, justify="left" if column == "source" else "right")
    table.add_column("first error", overflow="fold")
    for s in summaries:
        table.add_row(
            s.source,
            str(s.fetched),
            str(s.not_modified),
            str(s.new),
            str(s.duplicates),
            str(s.errors),
            s.error_messages[0] if s.error_messages else "",
        )
    return table


def crawl(
    ctx: typer.Context,
    sources: Annotated[
        list[str] | None,
        typer.Argument(metavar="[SOURCE]...", help="Source names (default: every enabled source)."),
    ] = None,
) -> None:
    """Poll sources once, now: fetch new articles, store them, print a summary."""
    from crawler.runner import crawl_once

    app = ctx.obj
    config = app.config
    known = {s.name for s in config.sources}
    for name in sources or []:
        if name not in known:
            raise UserError(f"no source named {name!r} in {config.directory / 'sources.yaml'}")
    names = list(dict.fromkeys(sources)) if sources else [s.name for s in config.sources if s.enabled]
    out = Console()
    if not names:
        out.print("no enabled sources to crawl")
        return
    app.engine  # noqa: B018 - applies pending migrations before crawling
    try:
        with CrawlProgress(names, Console(stderr=True)) as display:
            summaries = crawl_once(config, app.database, names, progress=display.update)
    except KeyboardInterrupt:
        out.print("interrupted: what was stored so far stays stored")
        raise typer.Exit(130) from None
    out.print(summary_table(summaries))
    if not all(s.ok for s in summaries):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("crawl")(crawl)
