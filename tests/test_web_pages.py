"""The web interface in a real browser (headless Chromium through Playwright): logging in,
every page, the rule editor checking and previewing as one types, a retry from the ledger,
a hostile article title, a form posted from another site. The application runs for real
(uvicorn on loopback, SQLite and PostgreSQL); screenshots go to $NEWSWATCH_SCREENSHOTS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from alert_helpers import write_config
from api_support import ApiServer
from browser_support import PASSWORD, log_in, shoot
from receivers import WebhookReceiver
from sqlalchemy import select

from newswatch.core.db import session_scope
from newswatch.core.models import Delivery

HOSTILE_TITLE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">Roscosmos leak'


@pytest.fixture
def desk(db_url: str, tmp_path: Path) -> Iterator[ApiServer]:
    """The web interface on a fresh database with the test config and an admin `desk`."""
    write_config(
        tmp_path / "config",
        [{"name": "ops", "notify": ["console://"], "rules": ["roscosmos"], "admin": True}],
    )
    server = ApiServer(tmp_path / "config", db_url).start()
    server.add_user("desk", admin=True, password=PASSWORD)
    try:
        yield server
    finally:
        server.stop()


def test_pages_need_a_login_and_it_returns_to_the_page_asked_for(desk, page) -> None:
    page.goto(f"{desk.url}/rules")
    assert page.url == f"{desk.url}/login?next=/rules"
    page.get_by_label("Username").fill("desk")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "wrong username or password"
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{desk.url}/rules")
    assert page.get_by_role("heading", name="Rules").is_visible()


def test_every_page_renders_for_an_admin_without_errors(desk, page) -> None:
    article = desk.store_article(
        "Roscosmos signs a cargo contract", "Roscosmos said the freighter flies in May."
    )
    desk.match_new()
    log_in(page, desk.url, "desk")
    paths = {
        "/": "Overview",
        "/articles": "Articles",
        "/articles?q=Roscosmos": "Articles",
        f"/articles/{article}": "Roscosmos signs a cargo contract",
        "/rules": "Rules",
        "/rules/new": "New rule",
        "/rules/roscosmos": "Rule roscosmos",
        "/subscribers": "Subscriptions",
        "/subscribers/new": "New subscription",
        "/subscribers/ops": "Subscription ops",
        "/alerts": "Alerts",
        "/sources": "Sources",
        "/users": "Users and tokens",
    }
    for path, heading in paths.items():
        response = page.goto(desk.url + path)
        assert response.status == 200, path
        assert page.get_by_role("heading", level=1).inner_text() == heading, path
        shoot(page, "page" + path.replace("/", "_").replace("?", "_").replace("=", "_"))
    assert page.problems == []
    page.goto(f"{desk.url}/articles?q=Roscosmos")
    assert page.locator("mark").first.inner_text() == "Roscosmos"


def test_a_user_sees_only_their_own_and_no_admin_pages(desk, page) -> None:
    desk.add_user("reader", password=PASSWORD)
    log_in(page, desk.url, "reader")
    assert page.get_by_role("link", name="Sources").count() == 0
    assert page.goto(f"{desk.url}/sources").status == 403
    page.goto(f"{desk.url}/subscribers")
    assert "ops" not in page.locator("table").inner_text()  # a config-file subscriber: admins only


def test_the_rule_editor_checks_the_query_and_previews_the_archive_as_one_types(desk, page) -> None:
    desk.store_article("Roscosmos names a new crew", "Roscosmos announced the crew on Monday.")
    desk.store_article("NASA plans to deorbit the ISS", "The deorbit vehicle is ready.")
    desk.store_article("Aurora season", "Bright aurora displays this week.")
    log_in(page, desk.url, "desk")
    page.goto(f"{desk.url}/rules/new")
    query = page.get_by_label("Query")
    query.press_sequentially('Roscosmos OR (deorbit* AND "ISS', delay=15)
    error = page.locator("#query-error")
    error.get_by_text("column").wait_for()
    assert "column 28" in error.inner_text() and "closing quote" in error.inner_text()
    assert query.get_attribute("aria-invalid") == "true"
    query.press_sequentially('")', delay=15)
    page.locator("#trial-total").get_by_text("2").wait_for()
    assert error.inner_text() == ""
    samples = page.locator(".samples .result")
    assert samples.count() == 2
    assert {m.inner_text() for m in page.locator(".samples mark").all()} >= {"Roscosmos", "deorbit"}
    assert page.locator("svg.chart rect").count() == 30
    shoot(page, "rule-editor-preview")
    page.get_by_label("Name").fill("crew-or-deorbit")
    page.get_by_label("Examples it must match").fill("Roscosmos confirmed the crew.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{desk.url}/rules/crew-or-deorbit?*")
    assert "saved" in page.get_by_role("status").inner_text()
    rules = desk.as_user("checker", admin=True).get("/api/v1/rules/crew-or-deorbit").json()
    assert rules["query"] == 'Roscosmos OR (deorbit* AND "ISS")'
    assert rules["examples"]["match"] == ["Roscosmos confirmed the crew."]


def test_a_failing_example_is_shown_by_its_field_and_nothing_is_saved(desk, page) -> None:
    log_in(page, desk.url, "desk")
    page.goto(f"{desk.url}/rules/new")
    page.get_by_label("Name").fill("strict")
    page.get_by_label("Query").fill("Roscosmos")
    page.get_by_label("Examples it must match").fill("NASA alone")
    page.get_by_role("button", name="Save").click()
    assert "examples.match[0]" in page.get_by_role("alert").inner_text()
    assert desk.as_user("checker", admin=True).get("/api/v1/rules/strict").status_code == 404


def test_an_edit_shows_what_it_adds_and_removes(desk, page) -> None:
    desk.store_article("Roscosmos names a new crew", "Roscosmos announced the crew.")
    desk.store_article("Station reboost planned", "The station will be reboosted.")
    log_in(page, desk.url, "desk")
    page.goto(f"{desk.url}/rules/roscosmos")
    query = page.get_by_label("Query")
    query.fill("station")
    query.press("End")
    page.locator("#diff").get_by_text("1 stories added, 1 removed").wait_for()
    assert page.locator("#diff .diff-added").inner_text().startswith("Station reboost planned")
    assert page.locator("#diff .diff-removed").inner_text().startswith("Roscosmos names a new crew")
    shoot(page, "rule-editor-diff")


def test_a_hostile_title_renders_as_text_everywhere(desk, page) -> None:
    article = desk.store_article(HOSTILE_TITLE, "Roscosmos said nothing <b>bold</b> happened.")
    desk.match_new()
    log_in(page, desk.url, "desk")
    for path in ("/", "/articles", "/articles?q=Roscosmos", f"/articles/{article}", "/alerts"):
        page.goto(desk.url + path)
        assert page.evaluate("window.__pwned") is None, path
        assert page.get_by_text("<script>window.__pwned = 1</script>", exact=False).count() >= 1, path
        assert page.locator("main script, main img").count() == 0, path
    shoot(page, "hostile-title")


class _ForeignSite:
    """Another site (its own port) whose page posts a form to newswatch as soon as it loads."""

    def __init__(self, target: str) -> None:
        body = f"""<!doctype html><body><form id="f" method="post" action="{target}/rules/new">
<input name="name" value="planted"><input name="query" value="anything"><input name="action" value="save">
</form><script>document.getElementById("f").submit()</script></body>""".encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_form_posted_from_another_site_is_refused(desk, page) -> None:
    log_in(page, desk.url, "desk")
    foreign = _ForeignSite(desk.url)
    try:
        with page.expect_response(f"{desk.url}/rules/new") as answer:
            page.goto(foreign.url)
        assert answer.value.status == 403
    finally:
        foreign.stop()
    assert page.get_by_role("heading", level=1).inner_text() == "Form refused"
    assert desk.as_user("checker", admin=True).get("/api/v1/rules/planted").status_code == 404


def test_a_failed_delivery_is_retried_from_the_ledger(db_url: str, tmp_path: Path, page) -> None:
    with WebhookReceiver(fail_first=1) as hook:
        write_config(
            tmp_path / "config",
            [{"name": "desk", "notify": [hook.url()], "rules": ["roscosmos"]}],
            delivery={"max_attempts": 1},
        )
        server = ApiServer(tmp_path / "config", db_url).start()
        try:
            server.add_user("desk", admin=True, password=PASSWORD)
            server.store_article("Roscosmos delays a launch", "Roscosmos said the launch slips a week.")
            server.match_new()
            server.app.dispatcher().run_once()
            with server.app.sessions() as session:
                assert session.scalars(select(Delivery.status)).all() == ["failed"]
            log_in(page, server.url, "desk")
            page.goto(f"{server.url}/alerts?status=failed")
            assert "500" in page.locator("td.small").first.inner_text()
            page.get_by_role("button", name="Retry now").click()
            assert "queued to be sent again" in page.get_by_role("status").inner_text()
            server.app.dispatcher().run_once()
            assert hook.wait_for(1, timeout=10)
            page.goto(f"{server.url}/alerts")
            assert page.locator("td .state.sent").count() == 1
            shoot(page, "alerts-after-retry")
            with session_scope(server.app.sessions) as session:
                delivery = session.scalars(select(Delivery)).one()
                assert (delivery.status, delivery.attempts) == ("sent", 1)
        finally:
            server.stop()
