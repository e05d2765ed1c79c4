"""`newswatch run`: the service (schedules, crawls, matches, delivers) until SIGTERM/SIGINT."""

from __future__ import annotations

from typing import Annotated

import typer


def run(
    ctx: typer.Context,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Serve /metrics and /healthz on this port.")
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", help="Address for --metrics-port.")
    ] = "127.0.0.1",
) -> None:
    """Run the service: poll every source on its schedule, match, deliver alerts. Stop with Ctrl-C."""
    from newswatch.core.db import upgrade
    from newswatch.service import Service

    app = ctx.obj
    config = app.config  # validates first: a broken config exits 2 before anything starts
    upgrade(app.database_url)
    service = Service(
        app.config_dir, app.database_url, metrics_port=metrics_port, metrics_host=metrics_host, config=config
    )
    raise typer.Exit(service.run())


def register(app: typer.Typer) -> None:
    app.command("run")(run)
