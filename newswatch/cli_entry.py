"""The console script's entry point: stop signals are taken care of before any slow import.

Importing the CLI (Typer, Rich, pydantic, every command module) takes a few tenths of a second;
a Ctrl-C or SIGTERM in that window printed a `KeyboardInterrupt` traceback from the middle of
an import. For `run`, `demo` and `web` the signal is remembered from the first line here and the
service stops as soon as it has started (`newswatch.stop_signals`); any other command stops
quietly with status 130.
"""

from __future__ import annotations

import sys

from newswatch import stop_signals


def main(argv: list[str] | None = None) -> None:
    """Run the `newswatch` command line (the `newswatch` script and `python -m newswatch`)."""
    args = sys.argv[1:] if argv is None else argv
    if stop_signals.is_service(args):
        stop_signals.catch_early()
    try:
        from newswatch.cli import main as run_command
    except KeyboardInterrupt:
        sys.exit(130)
    run_command(args)
