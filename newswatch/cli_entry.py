"""The console script's entry point: stop signals are taken care of before any slow import.

Importing the CLI (Typer, Rich, pydantic, every command module) takes a few tenths of a second;
a Ctrl-C or SIGTERM in that window printed a `KeyboardInterrupt` traceback from the middle of
an import. For `run`, `demo` and `web` the signal is remembered from the first line here and the
service stops as soon as it has started (`newswatch.stop_signals`); any other command stops
quietly with status 130.
"""

from __future__ import annotations

import sys

SERVICE_COMMANDS = ("run", "demo", "web")
_OPTIONS_WITH_VALUES = ("--config", "-c", "--db", "--log-format", "--log-level")


def command_name(argv: list[str]) -> str | None:
    """Return the command named in `argv` (the first word that is not a global option)."""
    words = iter(argv)
    for word in words:
        if word in _OPTIONS_WITH_VALUES:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def is_service(argv: list[str]) -> bool:
    return command_name(argv) in SERVICE_COMMANDS


def main(argv: list[str] | None = None) -> None:
    """Run the `newswatch` command line (the `newswatch` script and `python -m newswatch`)."""
    args = sys.argv[1:] if argv is None else argv
    service = is_service(args)
    if service:
        from newswatch import stop_signals

        stop_signals.catch_early()
    try:
        from newswatch.cli import main as run_command
    except KeyboardInterrupt:
        sys.exit(130)
    run_command(args)
