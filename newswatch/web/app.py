"""The FastAPI application: routers, JSON errors, a request-body limit and safe headers.

Handlers that touch the database are plain `def`s: FastAPI runs them in its thread pool, so
the event loop they share with the service's polls is never blocked by a query.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newswatch import __version__
from newswatch.web import (
    pages,
    routes_articles,
    routes_feeds,
    routes_pages,
    routes_rules,
    routes_sources,
    routes_subscribers,
    routes_users,
)
from newswatch.web.context import WebContext
from newswatch.web.errors import install_error_handlers


class BodyLimit:
    """Refuse a request body over `limit` bytes with 413, before any handler reads it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        chunks, total, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.limit:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = b'{"error":"the request body is too large","field":null,"column":null}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class SafeHeaders:
    """Headers every answer carries: no sniffing, no framing, no Referer (feed URLs hold tokens)."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(context: WebContext) -> FastAPI:
    """Return the web application serving `context`'s deployment."""
    app = FastAPI(
        title="newswatch",
        version=__version__,
        description="Sources, rules, subscribers, articles and alerts of one newswatch deployment.",
        openapi_url=None,  # served by routes_pages behind authentication
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    install_error_handlers(app)
    for module in (
        routes_pages,
        routes_sources,
        routes_rules,
        routes_subscribers,
        routes_articles,
        routes_users,
        routes_feeds,
    ):
        app.include_router(module.router)
    pages.install(app)
    app.add_middleware(BodyLimit, limit=context.max_body)
    app.add_middleware(SafeHeaders)
    return app
