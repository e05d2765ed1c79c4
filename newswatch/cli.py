"""The `newswatch` command line: a thin layer over the library (each command a few lines).

Errors a person can fix (`UserError`, including config errors) print one line on stderr and
exit with status 2. Commands live in `newswatch/commands/`, one module per command or group.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from newswatch import __version__, stop_signals
from newswatch.core.errors import UserError

app = typer.Typer(
    name="newswatch",
    help="Self-hosted news monitoring: crawl news sources, match rules, deliver alerts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"newswatch {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            metavar="DIR",
            help="Config directory (default: $NEWSWATCH_CONFIG, else ./config).",
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="URL",
            help="Database URL (default: $NEWSWATCH_DATABASE_URL, settings.yaml, "
            "else sqlite:///var/newswatch.db).",
        ),
    ] = None,
    log_format: Annotated[str, typer.Option("--log-format", help="Log lines as 'text' or 'json'.")] = "text",
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    # Imported here, not at the top: `--help` and `--version` must not pay for them.
    from newswatch.app import App
    from newswatch.core.logs import setup_logging

    if log_format not in ("text", "json"):
        raise typer.BadParameter(f"{log_format!r} is not one of 'text', 'json'", param_hint="--log-format")
    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise typer.BadParameter(
            f"{log_level!r} is not one of debug, info, warning, error", param_hint="--log-level"
        )
    setup_logging(log_level, log_format)
    ctx.obj = App(config_option=config, db_option=db, log_format=log_format)


# One module per command (newswatch/commands/NAME.py with register(app)); one line each.
COMMAND_MODULES = (
    "alerts",
    "check",
    "crawl",
    "db",
    "extract",
    "status",
    "run",
    "demo",
    "match",
    "articles",
    "rules",
    "web",
)


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"newswatch.commands.{name}").register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: run the command, turning user errors into exit 2."""
    args = sys.argv[1:] if argv is None else argv
    service = stop_signals.is_service(args)
    if service:
        # Before the slow imports: a Ctrl-C or SIGTERM from now on is remembered, and the
        # service stops as soon as it has started (newswatch.stop_signals).
        stop_signals.catch_early()
    try:
        command = typer.main.get_command(app)
        # Standalone mode: usage errors print Click's message and exit 2, --help exits 0.
        command.main(args=args, prog_name="newswatch", standalone_mode=True)
    except UserError as exc:
        for line in str(exc).splitlines() or [""]:
            print(f"newswatch: error: {line}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        # Ctrl-C while a command was still starting: stop quietly, no traceback.
        sys.exit(0 if service else 130)
