"""Secrets stay where they were given (DESIGN "Secrets"): a key in a feed URL, a password in a
source's userinfo, a token in a generic webhook's path, a password an endpoint echoes back —
each planted here and looked for in every log line at debug level, every command's output,
every stored text column, every request another loopback host sees."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from alert_helpers import add_article, compiled_rules, write_config
from crawl_support import source
from crawl_support import write_config as write_crawl_config
from receivers import WebhookReceiver
from sqlalchemy import JSON, String, Text, inspect, select, text

from alerts.delivery.dispatcher import Dispatcher
from alerts.delivery.outbox import process_new_articles
from newswatch.core.db import session_scope
from newswatch.core.models import Delivery
from newswatch.core.redact import display_url, redact_text, url_secret_parts

REPO = Path(__file__).resolve().parent.parent
KEY = "FEEDKEY4f9a2c71"
PASSWORD = "BasicPW77q1x9"
TOKEN = "HOOKTOKENz8k3m2n5p0"


def stored_texts(engine) -> str:
    """Every text and JSON value in every table, as one string to search."""
    found = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            columns = [
                c["name"]
                for c in inspect(engine).get_columns(table)
                if isinstance(c["type"], String | Text | JSON) or "CHAR" in str(c["type"]).upper()
            ]
            for column in columns:
                for (value,) in conn.execute(text(f'SELECT "{column}" FROM "{table}"')):
                    if value is not None:
                        found.append(str(value))
    return "\n".join(found)


def newswatch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


# ---------------------------------------------------------------------------- the display form


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://news.example.org/feed?apikey=abc123&lang=en",
            "https://news.example.org/feed?apikey=***&lang=en",
        ),
        ("https://user:pw123@news.example.org/feed", "https://news.example.org/feed"),
        (
            "https://x.example.org/a?X-Api-Key=k1&access_token=t2&sig=s3",
            "https://x.example.org/a?X-Api-Key=***&access_token=***&sig=***",
        ),
        ("json://hooks.example.org:8443/api/webhooks/123/SECRETTOKEN?x=1", "json://hooks.example.org:8443"),
        ("forms://h.example.org/in/abcdef", "forms://h.example.org"),
        (
            "mailtos://u:pass@example.org?-apikey=v9&+X-Token=h8",
            "mailtos://example.org?-apikey=***&+X-Token=***",
        ),
    ],
)
def test_a_url_is_shown_without_its_secrets(url: str, shown: str) -> None:
    assert display_url(url) == shown
    for secret in url_secret_parts(url):
        assert secret not in display_url(url)


def test_urls_in_free_text_are_shown_in_their_display_form() -> None:
    line = f"discovery failed: HTTP 500 after 3 retries: http://127.0.0.1:9/err.xml?apikey={KEY}."
    assert (
        redact_text(line)
        == "discovery failed: HTTP 500 after 3 retries: http://127.0.0.1:9/err.xml?apikey=***."
    )
    assert base64.b64encode(f"u:{PASSWORD}".encode()).decode() in url_secret_parts(f"json://u:{PASSWORD}@h/x")


# ---------------------------------------------------------------------------- sources


class _OtherHost:
    """A web server on 127.0.0.2 (another host for the crawler) that records request headers
    and serves one article page, or a feed behind Basic auth."""

    def __init__(self, auth: str | None = None) -> None:
        self.seen: list[dict[str, str]] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.seen.append({"path": self.path, **dict(self.headers.items())})
                if self.path == "/robots.txt":
                    body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
                else:
                    paragraph = (
                        "<p>Engineers reviewed the station's thermal loop and found it sound today.</p>" * 6
                    )
                    body = f"<html><head><title>Thermal loop</title></head><body><article><h1>Thermal loop review</h1>{paragraph}</article></body></html>".encode()
                    kind = "text/html; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        self.url = f"http://127.0.0.2:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_feed_key_never_reaches_another_host_as_referer(tmp_path, site, crawls) -> None:
    other = _OtherHost()
    try:
        feed = site.add_page(
            "/keyed/feed.xml",
            f'<rss version="2.0"><channel><item><title>Loop</title><link>{other.url}/article.html</link></item></channel></rss>'.encode(),
            "application/rss+xml",
        )
        config = write_crawl_config(tmp_path / "config", [source("keyed", "feed", f"{feed}?apikey={KEY}")])
        summary = crawls(config).poll("keyed")
        assert summary.new == 1, summary.error_messages
        article = [r for r in other.seen if r["path"] == "/article.html"]
        assert article and "Referer" not in article[0]
        assert not any(KEY in str(r) for r in other.seen)
    finally:
        other.stop()


def test_a_failing_source_key_is_in_no_log_output_status_or_stored_text(tmp_path, site, db_url) -> None:
    site.behave("/err500.xml", statuses=[500] * 10)
    config = tmp_path / "config"
    write_crawl_config(config, [source("keyed", "feed", f"{site.url}/err500.xml?apikey={KEY}")])
    common = ["--config", str(config), "--db", db_url, "--log-level", "debug"]
    crawl = newswatch(*common, "crawl")
    status = newswatch(*common, "status")
    as_json = newswatch(*common, "status", "--json")
    assert crawl.returncode == 1 and "HTTP 500" in crawl.stdout + crawl.stderr
    assert "apikey=***" in crawl.stdout + crawl.stderr
    for result in (crawl, status, as_json):
        assert KEY not in result.stdout + result.stderr
    from sqlalchemy import create_engine

    from newswatch.core.db import normalise_database_url

    engine = create_engine(normalise_database_url(db_url))
    try:
        everything = stored_texts(engine)
        assert "HTTP 500" in everything and KEY not in everything
    finally:
        engine.dispose()


class _AuthFeed:
    """A feed behind HTTP Basic auth on 127.0.0.1, linking to its own article and to one on
    another host; its /moved path redirects to another host."""

    def __init__(self, other: _OtherHost) -> None:
        expected = "Basic " + base64.b64encode(f"desk:{PASSWORD}".encode()).decode()
        self.seen: list[dict[str, str]] = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                feed.seen.append({"path": self.path, **dict(self.headers.items())})
                if self.path == "/robots.txt":
                    return self._send(404, b"", "text/plain")
                if self.headers.get("Authorization") != expected:
                    return self._send(
                        401, b"who are you?", "text/plain", {"WWW-Authenticate": 'Basic realm="x"'}
                    )
                if self.path == "/moved.xml":
                    return self._send(302, b"", "text/plain", {"Location": f"{other.url}/feed.xml"})
                if self.path == "/feed.xml":
                    base = f"http://127.0.0.1:{feed.port}"
                    body = f'<rss version="2.0"><channel><item><title>A</title><link>{base}/a.html</link></item></channel></rss>'
                    return self._send(200, body.encode(), "application/rss+xml")
                paragraph = (
                    "<p>Private bulletin: the crew completed the leak check on schedule this week.</p>" * 6
                )
                return self._send(
                    200,
                    f"<html><head><title>Bulletin</title></head><body><article><h1>Bulletin</h1>{paragraph}</article></body></html>".encode(),
                    "text/html",
                )

            def _send(self, status, body, kind, headers=None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_feed_behind_basic_auth_is_polled_and_its_password_goes_nowhere_else(
    tmp_path, crawls, engine
) -> None:
    other = _OtherHost()
    feed = _AuthFeed(other)
    try:
        base = f"http://desk:{PASSWORD}@127.0.0.1:{feed.port}"
        config = write_crawl_config(
            tmp_path / "config",
            [source("private", "feed", f"{base}/feed.xml"), source("moved", "feed", f"{base}/moved.xml")],
        )
        run = crawls(config)
        summary = run.poll("private")
        assert summary.ok and summary.new == 1, summary.error_messages
        run.poll("moved")
        assert other.seen, "the redirect was followed"
        assert not any("Authorization" in r for r in other.seen), "credentials crossed to another host"
        assert PASSWORD not in stored_texts(engine)
        assert all("@" not in r["path"] for r in feed.seen)
    finally:
        feed.stop()
        other.stop()


# ---------------------------------------------------------------------------- notify URLs


class _Echo(BaseHTTPRequestHandler):
    """A webhook endpoint that fails and echoes the request's Authorization header."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = f'{{"error": "denied", "you sent": "{self.headers.get("Authorization", "")}"}}'.encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_webhook_tokens_and_echoed_passwords_stay_out_of_the_ledger_and_the_logs(
    tmp_path, sessions, engine, db_url
) -> None:
    echo = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    try:
        with WebhookReceiver() as hook:
            subscribers = [
                {
                    "name": "desk",
                    "notify": [hook.url(path=f"/api/webhooks/42/{TOKEN}")],
                    "rules": ["roscosmos"],
                },
                {
                    "name": "echo",
                    "notify": [f"json://desk:{PASSWORD}@127.0.0.1:{echo.server_address[1]}/in"],
                    "rules": ["roscosmos"],
                },
            ]
            config = write_config(tmp_path / "config", subscribers, delivery={"max_attempts": 1})
            with session_scope(sessions) as session:
                add_article(session, "Roscosmos signs a contract", "Roscosmos said so.")
                process_new_articles(session, config, compiled_rules(config))
            Dispatcher(config, sessions).run_once()
            assert hook.wait_for(1, timeout=10)
            assert TOKEN in hook.requests[0].path  # the token is used where it was given
            with sessions() as session:
                failed = session.scalars(select(Delivery).where(Delivery.subscriber == "echo")).one()
            assert failed.status == "failed" and "500" in (failed.last_error or "")
            everything = stored_texts(engine)
            encoded = base64.b64encode(f"desk:{PASSWORD}".encode()).decode()
            for secret in (TOKEN, PASSWORD, encoded):
                assert secret not in everything
            shown = newswatch(
                "--config", str(tmp_path / "config"), "--db", db_url, "--log-level", "debug", "alerts"
            )
            assert shown.returncode == 0, shown.stderr
            assert f"json://127.0.0.1:{hook.port}" in shown.stdout
            for secret in (TOKEN, PASSWORD, encoded):
                assert secret not in shown.stdout + shown.stderr
    finally:
        echo.shutdown()
        echo.server_close()


# ---------------------------------------------------------------------------- files and the database


def test_the_sqlite_file_and_its_folder_are_private_whatever_the_umask(tmp_path) -> None:
    database = tmp_path / "var" / "newswatch.db"
    previous = os.umask(0o022)
    try:
        result = newswatch("--config", str(REPO / "config"), "--db", f"sqlite:///{database}", "db", "upgrade")
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://newswatch:{PASSWORD}@127.0.0.1:1/newswatch",
        f"postgresql://newswatch@127.0.0.1:1/newswatch?password={PASSWORD}",
        f"postgresql://newswatch:tail@{PASSWORD}@127.0.0.1:1/newswatch",
        f"postgresql://newswatch:{PASSWORD}@[bad/newswatch",
    ],
)
def test_a_database_password_is_never_printed(url: str) -> None:
    result = newswatch("--config", str(REPO / "config"), "--db", url, "db", "upgrade")
    assert result.returncode == 2
    assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_delivery_written_before_the_installation_key_is_still_sent(tmp_path, sessions) -> None:
    from alerts.delivery.outbox import legacy_destination_key

    with WebhookReceiver() as hook:
        config = write_config(
            tmp_path / "config", [{"name": "desk", "notify": [hook.url()], "rules": ["roscosmos"]}]
        )
        with session_scope(sessions) as session:
            add_article(session, "Roscosmos signs a contract", "Roscosmos said so.")
            process_new_articles(session, config, compiled_rules(config))
            delivery = session.scalars(select(Delivery)).one()
            delivery.destination_key = legacy_destination_key(hook.url())  # as 0006 and earlier wrote it
        Dispatcher(config, sessions).run_once()
        assert hook.wait_for(1, timeout=10)
        with sessions() as session:
            assert session.scalars(select(Delivery.status)).one() == "sent"


def test_a_webhook_token_is_in_no_log_line_of_a_send_at_debug_level(tmp_path, sessions, db_url) -> None:
    with WebhookReceiver(fail_first=1) as hook:
        url = hook.url(path=f"/api/webhooks/42/{TOKEN}", query=f"-apikey={KEY}")
        config = write_config(
            tmp_path / "config", [{"name": "desk", "notify": [url], "rules": ["roscosmos"]}]
        )
        with session_scope(sessions) as session:
            add_article(session, "Roscosmos signs a contract", "Roscosmos said so.")
            process_new_articles(session, config, compiled_rules(config))
        common = ["--config", str(tmp_path / "config"), "--db", db_url, "--log-level", "debug"]
        failed = newswatch(*common, "alerts", "send")
        sent = newswatch(*common, "alerts", "send")
        assert hook.wait_for(2, timeout=10) and len(hook.successes) == 1
        assert TOKEN in hook.requests[-1].path  # used where it was given
        for result in (failed, sent):
            assert result.returncode == 0, result.stderr
            assert "DEBUG" in result.stderr  # urllib3 and Apprise did log the request
            assert TOKEN not in result.stdout + result.stderr and KEY not in result.stdout + result.stderr
