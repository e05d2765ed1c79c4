"""`newswatch run`: the service (schedules, crawls, matches, delivers, serves the web interface
and API) until SIGTERM/SIGINT."""

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
    web: Annotated[
        str | None,
        typer.Option(
            "--web",
            metavar="HOST:PORT",
            help="Serve the web interface and API here (default: web.listen, 127.0.0.1:8470).",
        ),
    ] = None,
    no_web: Annotated[bool, typer.Option("--no-web", help="Do not serve the web interface and API.")] = False,
) -> None:
    """Run the service: poll every source on its schedule, match, deliver alerts, serve the API. Stop with Ctrl-C."""
    from newswatch.cluster.roles import ALL_ROLES, parse_roles
    from newswatch.core.db import normalise_database_url
    from newswatch.core.errors import UserError
    from newswatch.service import Service
    from newswatch.web.server import parse_listen, web_server

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
    listen = web or app.config.settings.web.listen
    parse_listen(listen)  # a malformed address exits 2 now
    # An address given with --web must be served; the default one may be taken (a second
    # service on this machine): then the service runs on without it, after an error line.
    # In a deployment of several processes, only those with the `web` role serve it.
    serve = not no_web and (wanted is None or "web" in wanted)
    make_web = (lambda file_config: web_server(app, file_config, listen, web is not None)) if serve else None
    service = Service(
        app, metrics_port=metrics_port, metrics_host=metrics_host, cluster=cluster, web=make_web
    )
    raise typer.Exit(service.run())


def register(app: typer.Typer) -> None:
    app.command("run")(run)
