"""`newswatch demo`: the whole pipeline against the bundled local news site, offline."""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between new articles on the demo site.")
    ] = 6.0,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="Database for the demo (default: a new SQLite file in a temporary folder, deleted "
            "when the demo stops). A database that already holds the demo's stories sends no alerts "
            "for them again: one alert per story.",
        ),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep", help="Keep the demo's folder (config and database) when it stops; its path is printed."
        ),
    ] = False,
) -> None:
    """Start a local news site and the service on it; alerts appear here within a minute. Ctrl-C stops.

    Everything the demo writes goes to a temporary folder (its config and, unless --db is given,
    its SQLite database), deleted when the demo stops unless --keep is given.
    """
    from newswatch.demo.runner import run_demo

    if interval <= 0:
        raise typer.BadParameter("must be more than 0", param_hint="--interval")
    raise typer.Exit(run_demo(db or ctx.obj.db_option, interval=interval, keep=keep))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
