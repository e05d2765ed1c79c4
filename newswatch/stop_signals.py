"""Stop signals that arrive before the service's event loop takes them over.

`newswatch run` and `newswatch demo` spend a second or two importing Scrapy and starting the
extraction workers before the service installs its own SIGINT / SIGTERM handlers on the loop.
A signal in that window must not print a `KeyboardInterrupt` traceback or be lost: the early
handlers installed here only remember it, and the service stops at once when it starts.
"""

from __future__ import annotations

import signal
import threading

requested = threading.Event()

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
    """Whether `argv` starts the service (whose early signals are remembered, not raised)."""
    return command_name(argv) in SERVICE_COMMANDS


def _remember(signum: int, _frame: object) -> None:
    requested.set()


def catch_early() -> None:
    """Remember SIGINT / SIGTERM from now on, until the service installs its own handlers."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _remember)
