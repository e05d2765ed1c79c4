"""`newswatch rules test QUERY`: how a draft rule would have behaved on the stored articles."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

rules_app = typer.Typer(
    help="Try rules against the stored articles.", no_args_is_help=True, rich_markup_mode=None
)

BAR_WIDTH = 40


@rules_app.command("test")
def test(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help="The draft rule's query (README 'Query language').")
    ],
    since: Annotated[
        str, typer.Option("--since", metavar="AGE", help="How far back to look, e.g. 30d, 12h.")
    ] = "30d",
    source: Annotated[
        str | None, typer.Option("--source", "-s", metavar="NAME", help="Only this source.")
    ] = None,
    samples: Annotated[
        int, typer.Option("--samples", metavar="N", min=0, help="How many matching titles to show.")
    ] = 10,
) -> None:
    """Show hits per day and sample titles (hits in bold) for QUERY over the stored articles."""
    from alerts.rules.archive import compile_search
    from alerts.rules.trial import try_query
    from newswatch.commands.articles import bold, check_source, parse_since, when

    cutoff = parse_since(since)
    compile_search(query)  # a malformed query fails before the database is opened
    console = Console(highlight=False, soft_wrap=True)
    with ctx.obj.read_sessions() as session:
        check_source(session, source)
        trial = try_query(session, query, cutoff, source, samples)
    per_day, shown = trial.per_day, trial.samples
    scope = f" from {source}" if source else ""
    console.print(f"query: {escape(trial.query)}")
    console.print(
        f"last {since}{escape(scope)}: {trial.stats.matched} matching articles "
        f"({trial.stats.candidates} passed the index prefilter)"
    )
    if per_day:
        console.print("hits per day:")
        top = max(per_day.values())
        for day in days_between(min(per_day), max(per_day)) or sorted(per_day):
            count = per_day.get(day, 0)
            bar = "#" * max(1, round(count / top * BAR_WIDTH)) if count else ""
            console.print(f"  {day}  {count:5d}  {bar}".rstrip())
    if shown:
        console.print("newest matches:")
        for hit in shown:
            console.print(f"  {when(hit.when)}  {escape(hit.source)}  {bold(hit.title_highlighted, console)}")
            if hit.match.snippet != hit.title_highlighted:
                console.print(f"      {bold(hit.match.snippet, console)}")


def days_between(first: str, last: str, most: int = 62) -> list[str]:
    """Return every day from `first` to `last`, so quiet days show as 0; [] over a longer span
    (then only the days with hits are listed)."""
    from datetime import date, timedelta

    start, end = date.fromisoformat(first), date.fromisoformat(last)
    if (end - start).days > most:
        return []
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
