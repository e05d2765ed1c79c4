"""The web API served for real in tests: uvicorn on a free loopback port (its own asyncio
loop in a thread), httpx clients with API tokens, and stored articles, matches and alerts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alert_helpers import add_article, compiled_rules, write_config

from alerts.delivery.outbox import process_new_articles
from newswatch.app import App
from newswatch.core.db import session_scope
from newswatch.web.auth import create_user, issue_token
from newswatch.web.context import WebContext
from newswatch.web.server import WebServer

SUBSCRIBERS = [{"name": "ops", "notify": ["console://"], "rules": ["roscosmos"], "admin": True}]


class ApiServer:
    """newswatch's web application on 127.0.0.1:<free port> against one database."""

    def __init__(self, config_dir: Path, db_url: str) -> None:
        self.app = App(config_option=str(config_dir), db_option=db_url)
        self.app.config  # noqa: B018
        self.context = WebContext(self.app, lambda: self.app.config, "127.0.0.1:0")
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.clients: list[httpx.Client] = []

    def start(self) -> ApiServer:
        self._thread.start()
        self.server = WebServer(self.context)
        asyncio.run_coroutine_threadsafe(self.server.start(announce=False), self.loop).result(20)
        self.url = self.server.url
        return self

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.app.close()

    def client(self, token: str | None = None, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)
        self.clients.append(client)
        return client

    def add_user(self, name: str, admin: bool = False, password: str | None = "password-123") -> str:
        """Make an account; return an API token of it."""
        with session_scope(self.app.sessions) as session:
            user = create_user(session, name, password, admin)
            token, _ = issue_token(session, user, "test")
        return token

    def as_user(self, name: str, admin: bool = False) -> httpx.Client:
        return self.client(self.add_user(name, admin))

    def store_article(self, title: str, text: str = "", **kwargs) -> int:
        with self.app.sessions() as session:
            return add_article(session, title, text, **kwargs).id

    def match_new(self) -> int:
        """Match what is stored with the effective config (files + API), as the service does."""
        config, _ = self.app.managed_config()
        with session_scope(self.app.sessions) as session:
            return process_new_articles(session, config, compiled_rules(config))


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[ApiServer]:
    """The API on a fresh database, with config files (3 sources, 3 rules, subscriber `ops`)."""
    write_config(tmp_path / "config", SUBSCRIBERS)
    server = ApiServer(tmp_path / "config", db_url).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def admin(api: ApiServer) -> httpx.Client:
    return api.as_user("root", admin=True)


def error(response: httpx.Response, status: int) -> dict:
    """Assert the JSON error shape and status; return the body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "field", "column"}, body
    assert "Traceback" not in body["error"] and "SELECT" not in body["error"]
    return body
