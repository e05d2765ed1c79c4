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
    from newswatch.service import Service

    app = ctx.obj
    # A broken config, then a database that cannot be opened, exit 2 before anything starts.
    app.config  # noqa: B018
    app.engine  # noqa: B018
    service = Service(app, metrics_port=metrics_port, metrics_host=metrics_host)
    raise typer.Exit(service.run())


def register(app: typer.Typer) -> None:
    app.command("run")(run)
