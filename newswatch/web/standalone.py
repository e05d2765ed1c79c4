"""`newswatch web`: the web interface and API alone, on their own asyncio loop, until
SIGINT / SIGTERM. Changes made through it reach a `newswatch run` on the same database through
the config revision (within seconds), so the two may run side by side."""

from __future__ import annotations

import asyncio
import logging
import signal

from newswatch import stop_signals
from newswatch.app import App
from newswatch.web.context import WebContext
from newswatch.web.server import WebServer

log = logging.getLogger("newswatch.web")


def serve_web(app: App, listen: str | None) -> int:
    """Serve until stopped; return the exit status."""
    config = app.config  # a broken config exits 2 before anything starts
    app.engine  # noqa: B018 - the schema is migrated (or the database's error is an exit 2) first
    context = WebContext(app, lambda: config, listen or config.settings.web.listen)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def main() -> None:
        server = WebServer(context)
        await server.start()
        stopped = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopped.set)
        if stop_signals.requested.is_set():
            stopped.set()
        await stopped.wait()
        await server.stop()
        log.info("stopped")

    try:
        loop.run_until_complete(main())
    finally:
        app.close()
        loop.close()
    return 0
