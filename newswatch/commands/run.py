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
    roles: Annotated[
        str | None,
        typer.Option(
            "--roles",
            help="Run only these roles of a multi-process deployment on PostgreSQL, comma-separated: "
            "scheduler,crawl,match,deliver,web (default: all of them in this one process).",
        ),
    ] = None,
) -> None:
    """Run the service: poll every source on its schedule, match, deliver alerts. Stop with Ctrl-C."""
    from newswatch.cluster.roles import ALL_ROLES, parse_roles
    from newswatch.core.db import normalise_database_url
    from newswatch.core.errors import UserError
    from newswatch.service import Service

    app = ctx.obj
    wanted = None
    if roles is not None:
        wanted = parse_roles(roles)
        on_sqlite = normalise_database_url(app.database_url).startswith("sqlite")
        if on_sqlite and wanted != ALL_ROLES:
            raise UserError(
                "--roles with a subset of the roles needs PostgreSQL, which the processes share "
                "(give --db postgresql://… or run without --roles)"
            )
        if on_sqlite:
            wanted = None  # every role on SQLite: the single-process service
    # A broken config, then a database that cannot be opened, exit 2 before anything starts.
    app.config  # noqa: B018
    app.engine  # noqa: B018
    cluster = None
    if wanted is not None:
        from newswatch.cluster.node import ClusterNode  # Procrastinate: only for a deployment

        cluster = ClusterNode(wanted)
    service = Service(app, metrics_port=metrics_port, metrics_host=metrics_host, cluster=cluster)
    raise typer.Exit(service.run())


def register(app: typer.Typer) -> None:
    app.command("run")(run)
