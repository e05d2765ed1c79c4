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


def _remember(signum: int, _frame: object) -> None:
    requested.set()


def catch_early() -> None:
    """Remember SIGINT / SIGTERM from now on, until the service installs its own handlers."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _remember)
