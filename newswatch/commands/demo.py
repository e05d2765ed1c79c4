"""`newswatch demo`: the whole pipeline against the bundled local news site, offline."""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between new articles on the demo site.")
    ] = 6.0,
) -> None:
    """Start a local news site and the service on it; alerts appear here within a minute. Ctrl-C stops."""
    from newswatch.demo.runner import run_demo

    if interval <= 0:
        raise typer.BadParameter("must be more than 0", param_hint="--interval")
    raise typer.Exit(run_demo(ctx.obj.db_option, interval=interval))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
