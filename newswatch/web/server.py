"""Serving the web application with uvicorn on the caller's asyncio loop.

`newswatch run` runs it on the service's loop (Scrapy's asyncio reactor) as one more task:
uvicorn's own signal handling is switched off, because the service owns SIGINT and SIGTERM
and stops the server itself (`WebServer.stop`). The socket is bound here first, so an address
in use is one clear error (exit 2), not uvicorn's `sys.exit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import sys
from collections.abc import Callable, Iterator

import uvicorn

from newswatch.app import App
from newswatch.core.config import Config
from newswatch.core.errors import UserError
from newswatch.web.app import create_app
from newswatch.web.context import WebContext

log = logging.getLogger("newswatch.web")
STOP_TIMEOUT = 5.0


def parse_listen(value: str) -> tuple[str, int]:
    """Return (host, port) for 'HOST:PORT' ('[::1]:8470' for IPv6); UserError otherwise."""
    host, sep, port = value.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UserError(f"web listen address {value!r} is not HOST:PORT (e.g. 127.0.0.1:8470)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the service has its own)."""

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # uvicorn >= 0.29
        yield


class WebServer:
    """The web application served on one address, as a task of the running loop."""

    def __init__(self, context: WebContext, required: bool = True) -> None:
        self.context = context
        self.required = required  # False: an address in use is logged, and the caller runs on
        self.host, self.port = parse_listen(context.listen)
        self._task: asyncio.Task | None = None

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise UserError(
                f"cannot serve the web interface on {self.context.listen}: {exc.strerror}"
            ) from None
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]  # port 0: the one the system chose
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.context.listen = f"{host}:{self.port}"
        return sock

    async def start(self, announce: bool = True) -> None:
        """Start serving; with `announce`, print the address and, when no account exists yet,
        the one-time set-up URL (to the terminal, never to the log)."""
        try:
            sock = self._bind()
        except UserError as exc:
            if self.required:
                raise
            log.error("%s; the service runs on without it (give --web HOST:PORT or --no-web)", exc)
            return
        config = uvicorn.Config(
            create_app(self.context),
            log_config=None,
            access_log=False,
            log_level="warning",  # its start-up lines would repeat ours
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=2,
            limit_concurrency=200,
        )
        self._server = _Server(config)
        self._task = asyncio.ensure_future(self._server.serve(sockets=[sock]))
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises what stopped it
        if not is_loopback(self.host):
            log.warning(
                "the web interface listens on %s, not a loopback address: put a TLS-terminating "
                "proxy in front of it before exposing it",
                self.context.listen,
            )
        log.info("web interface at %s", self.url)
        if announce:
            loop = asyncio.get_running_loop()
            url = await loop.run_in_executor(None, self._setup_url)
            if url:
                announce_setup(url, self.context.app.log_format)

    def _setup_url(self) -> str | None:
        with self.context.session() as session:
            return self.context.offer_setup(session)

    @property
    def serving(self) -> bool:
        """Whether the interface is being served (the default address may have been taken)."""
        return self._task is not None and not self._task.done()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        host = "127.0.0.1" if host == "0.0.0.0" else host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        if self._task is None or self._task.done():
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=STOP_TIMEOUT)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()


def announce_setup(url: str, log_format: str) -> None:
    """Show the one-time set-up URL on the terminal: plain lines, or one JSON log record when
    the log is JSON (every line of it must parse). It is good for one use, while no account exists."""
    if log_format == "json":
        log.warning("no account exists yet: open the one-time set-up link to create the first admin: %s", url)
        return
    print(
        "newswatch: no account exists yet. Open this one-time link to create the first admin:\n"
        f"  {url}\n(or run `newswatch users add NAME --admin`)",
        file=sys.stderr,
        flush=True,
    )


def web_server(app: App, file_config: Callable[[], Config], listen: str, required: bool) -> WebServer:
    """Return the web server of `app`'s deployment on `listen` (for the service)."""
    return WebServer(WebContext(app, file_config, listen), required)
