"""The HTTP API over real HTTP (uvicorn on loopback, httpx), on SQLite and PostgreSQL: rules,
subscribers and sources made, read, changed and deleted; the errors the contract names; the
config files' entities read-only; accounts, tokens, the login session and CSRF."""

from __future__ import annotations

import httpx
from api_support import ApiServer, admin, api, error  # noqa: F401  (fixtures)

RULE = {"name": "esa-launch", "query": "ESA AND launch*"}


def test_healthz_answers_without_an_account(api: ApiServer) -> None:
    response = api.client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_is_503_without_driver_text_when_the_database_is_unreachable(tmp_path) -> None:
    from alert_helpers import write_config

    write_config(tmp_path / "config", [])
    server = ApiServer(tmp_path / "config", "postgresql://nobody@127.0.0.1:9/none").start()
    try:
        response = server.client().get("/healthz")
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.json() == {"status": "error", "error": "database unreachable"}


def test_everything_else_needs_an_account(api: ApiServer) -> None:
    anonymous = api.client()
    for path in ("/api/v1/rules", "/api/v1/sources", "/api/v1/alerts", "/api/openapi.json", "/api/docs"):
        error(anonymous.get(path), 401)
    error(api.client("nwt_not-a-token").get("/api/v1/rules"), 401)
    assert anonymous.get("/").status_code == 303  # to /login
    page = anonymous.get("/login")
    assert page.status_code == 200
    assert '<label for="username">Username</label>' in page.text
    assert '<label for="password">Password</label>' in page.text


def test_openapi_description_lists_the_contract(admin: httpx.Client) -> None:
    paths = admin.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/v1/rules",
        "/api/v1/rules/test",
        "/api/v1/rules/{name}/diff",
        "/api/v1/sources/preview",
    ):
        assert path in paths
    assert admin.get("/api/docs").status_code == 200


def test_rule_made_read_changed_and_deleted(api: ApiServer, admin: httpx.Client) -> None:
    made = admin.post("/api/v1/rules", json=RULE)
    assert made.status_code == 201, made.text
    assert made.json()["origin"] == "api" and made.json()["owner"] == "root"
    got = admin.get("/api/v1/rules/esa-launch").json()
    assert got["query"] == RULE["query"]
    assert got["feed_url"].startswith(f"{api.url}/feeds/rules/esa-launch.atom?token=")
    assert "nwt_" not in got["feed_url"]
    names = [r["name"] for r in admin.get("/api/v1/rules").json()]
    assert {"roscosmos", "iss-deorbit", "artemis", "esa-launch"} <= set(names)
    changed = admin.patch("/api/v1/rules/esa-launch", json={"query": "ESA", "sources": ["esa-news"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["query"] == "ESA" and changed.json()["sources"] == ["esa-news"]
    assert admin.delete("/api/v1/rules/esa-launch").status_code == 204
    error(admin.get("/api/v1/rules/esa-launch"), 404)
    error(admin.delete("/api/v1/rules/esa-launch"), 404)


def test_query_that_does_not_parse_is_422_with_its_column_and_nothing_is_saved(admin: httpx.Client) -> None:
    body = error(admin.post("/api/v1/rules", json={"name": "broken", "query": "ESA AND (launch"}), 422)
    assert body["field"] == "query" and body["column"] == 16
    error(admin.get("/api/v1/rules/broken"), 404)
    admin.post("/api/v1/rules", json=RULE)
    body = error(admin.patch("/api/v1/rules/esa-launch", json={"query": "NOT ESA"}), 422)
    assert body["field"] == "query" and body["column"] == 1
    assert admin.get("/api/v1/rules/esa-launch").json()["query"] == RULE["query"]


def test_failing_example_is_422_naming_examples(admin: httpx.Client) -> None:
    examples = {"match": ["ESA launches a probe."], "no_match": ["ESA held a launch party for the launch*."]}
    body = error(admin.post("/api/v1/rules", json=RULE | {"examples": examples}), 422)
    assert body["field"] == "examples"
    assert body["error"].startswith("examples.no_match[0]: the rule matches it")
    examples = {"match": ["The agency met on Monday."]}
    body = error(admin.post("/api/v1/rules", json=RULE | {"examples": examples}), 422)
    assert body["error"].startswith("examples.match[0]: the rule does not match it: ESA found nothing")
    error(admin.get("/api/v1/rules/esa-launch"), 404)
    good = {"match": ["ESA launches a probe."], "no_match": ["ESA met on Monday."]}
    assert admin.post("/api/v1/rules", json=RULE | {"examples": good}).status_code == 201


def test_config_file_entities_are_read_only_naming_the_file(api: ApiServer, admin: httpx.Client) -> None:
    for path, change in (
        ("/api/v1/rules/roscosmos", {"query": "x"}),
        ("/api/v1/subscribers/ops", {"rules": ["artemis"]}),
        ("/api/v1/sources/nasa-news", {"every": "1h"}),
    ):
        body = error(admin.patch(path, json=change), 409)
        assert ".yaml" in body["error"] and str(api.app.config_dir.resolve()) in body["error"]
        error(admin.delete(path), 409)
    assert admin.get("/api/v1/rules/roscosmos").json()["origin"] == "config"


def test_names_are_unique_across_the_files_and_the_database(admin: httpx.Client) -> None:
    body = error(admin.post("/api/v1/rules", json={"name": "roscosmos", "query": "x"}), 409)
    assert "rules.yaml" in body["error"] and body["field"] == "name"
    admin.post("/api/v1/rules", json=RULE)
    assert error(admin.post("/api/v1/rules", json=RULE), 409)["field"] == "name"
    error(admin.post("/api/v1/sources", json={"name": "tass-en", "feed": "https://x.example.org/f"}), 409)


def test_bad_input_is_refused_with_the_field(admin: httpx.Client) -> None:
    body = error(admin.post("/api/v1/rules", json={"name": "<b>x</b>", "query": "ESA"}), 422)
    assert body["field"] == "name"
    assert (
        error(admin.post("/api/v1/rules", json={"name": "x", "query": "a", "colour": 1}), 422)["field"]
        == "colour"
    )
    assert error(admin.post("/api/v1/rules", json={"query": "a"}), 422)["field"] == "name"
    error(
        admin.post("/api/v1/rules", content=b"{not json", headers={"content-type": "application/json"}), 422
    )
    body = error(admin.post("/api/v1/rules", json={"name": "x", "query": "ESA", "sources": ["nowhere"]}), 422)
    assert body["field"] == "sources"
    body = error(admin.patch("/api/v1/rules/roscosmos-two", json={"query": "x"}), 404)
    error(admin.get("/api/v1/no-such-endpoint"), 404)


def test_oversized_body_is_refused_before_it_is_read(admin: httpx.Client) -> None:
    big = {"name": "big", "query": "ESA", "examples": {"match": ["ESA " * 400_000]}}
    error(admin.post("/api/v1/rules", json=big), 413)
    error(admin.get("/api/v1/rules/big"), 404)


def test_sources_are_managed_by_admins_only(api: ApiServer, admin: httpx.Client) -> None:
    user = api.as_user("alice")
    source = {"name": "esa-blog", "feed": "https://blog.example.org/feed", "every": "30m"}
    error(user.post("/api/v1/sources", json=source), 403)
    made = admin.post("/api/v1/sources", json=source)
    assert made.status_code == 201, made.text
    assert [s["name"] for s in user.get("/api/v1/sources").json()][-1] == "esa-blog"
    error(user.patch("/api/v1/sources/esa-blog", json={"every": "1h"}), 403)
    error(user.delete("/api/v1/sources/esa-blog"), 403)
    assert admin.patch("/api/v1/sources/esa-blog", json={"every": "1h"}).json()["every"] == "1h"
    switched = admin.patch(
        "/api/v1/sources/esa-blog", json={"sitemap": "https://blog.example.org/sitemap.xml"}
    )
    assert switched.json()["kind"] == "sitemap", switched.text
    body = error(admin.post("/api/v1/sources", json={"name": "inside", "feed": "http://10.1.2.3/feed"}), 422)
    assert body["field"] == "feed" and "private" in body["error"]
    body = error(
        admin.post(
            "/api/v1/sources", json={"name": "meta", "feed": "http://169.254.169.254/", "allow_private": True}
        ),
        422,
    )
    assert "link-local" in body["error"]
    admin.post("/api/v1/rules", json={"name": "blog", "query": "ESA", "sources": ["esa-blog"]})
    assert error(admin.delete("/api/v1/sources/esa-blog"), 409)["field"] == "name"
    admin.delete("/api/v1/rules/blog")
    from newswatch.core.db import session_scope
    from newswatch.core.models import Source, utcnow

    with session_scope(api.app.sessions) as session:  # as if it had been crawled
        session.add(
            Source(
                name="esa-blog",
                kind="sitemap",
                url="https://blog.example.org/sitemap.xml",
                first_crawl_at=utcnow(),
            )
        )
    assert admin.delete("/api/v1/sources/esa-blog").status_code == 204
    with api.app.sessions() as session:
        # A new source of this name gets its first crawl's backfill guard again.
        assert session.query(Source.first_crawl_at).filter(Source.name == "esa-blog").scalar() is None


def test_notify_urls_are_write_only_and_private_ones_admin_only(api: ApiServer, admin: httpx.Client) -> None:
    user = api.as_user("alice")
    secret = "json://hooks.example.org/in?+X-Token=sup3r-s3cret-value"
    body = error(
        user.post(
            "/api/v1/subscribers",
            json={"name": "a", "notify": ["json://127.0.0.1:9/h"], "rules": ["roscosmos"]},
        ),
        422,
    )
    assert body["field"] == "notify" and "admin" in body["error"]
    error(
        user.post(
            "/api/v1/subscribers",
            json={"name": "a", "notify": ["json://192.168.1.5/h"], "rules": ["roscosmos"]},
        ),
        422,
    )
    error(
        user.post(
            "/api/v1/subscribers", json={"name": "a", "notify": ["console://"], "rules": ["roscosmos"]}
        ),
        422,
    )
    error(
        user.post("/api/v1/subscribers", json={"name": "a", "notify": ["nonsense"], "rules": ["roscosmos"]}),
        422,
    )
    error(
        user.post(
            "/api/v1/subscribers",
            json={"name": "a", "notify": [secret], "rules": ["roscosmos"], "admin": True},
        ),
        422,
    )
    made = user.post("/api/v1/subscribers", json={"name": "a", "notify": [secret], "rules": ["roscosmos"]})
    assert made.status_code == 201, made.text
    assert "sup3r" not in made.text
    assert "sup3r" not in user.get("/api/v1/subscribers/a").text
    assert (
        admin.post(
            "/api/v1/subscribers",
            json={"name": "b", "notify": ["json://127.0.0.1:9/h"], "rules": ["artemis"]},
        ).status_code
        == 201
    )
    changed = user.patch("/api/v1/subscribers/a", json={"digest": "every 1h"})
    assert changed.json()["digest"] == "every 1h" and "sup3r" not in changed.text
    error(user.patch("/api/v1/subscribers/a", json={"digest": "sometimes"}), 422)
    assert error(admin.delete("/api/v1/rules/roscosmos"), 409)["error"]
    assert user.delete("/api/v1/subscribers/a").status_code == 204


def test_tokens_are_shown_once_and_only_to_their_owner(api: ApiServer) -> None:
    alice = api.as_user("alice")
    made = alice.post("/api/v1/tokens", json={"label": "laptop"})
    assert made.status_code == 201
    token = made.json()["token"]
    assert api.client(token).get("/api/v1/me").json()["name"] == "alice"
    listed = alice.get("/api/v1/tokens").json()
    assert "laptop" in [t["label"] for t in listed] and all("token" not in t for t in listed)
    bob = api.as_user("bob")
    error(bob.delete(f"/api/v1/tokens/{made.json()['id']}"), 404)
    assert made.json()["id"] not in [t["id"] for t in bob.get("/api/v1/tokens").json()]
    assert alice.delete(f"/api/v1/tokens/{made.json()['id']}").status_code == 204
    error(api.client(token).get("/api/v1/me"), 401)


def test_users_are_managed_by_admins(api: ApiServer, admin: httpx.Client) -> None:
    made = admin.post("/api/v1/users", json={"name": "carol", "password": "long-enough-1"})
    assert made.status_code == 201 and made.json()["admin"] is False
    error(admin.post("/api/v1/users", json={"name": "carol", "password": "long-enough-1"}), 409)
    assert (
        error(admin.post("/api/v1/users", json={"name": "dave", "password": "short"}), 422)["field"]
        == "password"
    )
    user = api.as_user("alice")
    error(user.get("/api/v1/users"), 403)
    error(user.post("/api/v1/users", json={"name": "eve", "password": "long-enough-1", "admin": True}), 403)
    assert "carol" in [u["name"] for u in admin.get("/api/v1/users").json()]
    assert admin.delete("/api/v1/users/carol").status_code == 204


def test_browser_session_needs_the_csrf_token_for_changes(api: ApiServer) -> None:
    api.add_user("alice")
    browser = api.client()
    logged = browser.post("/login", json={"username": "alice", "password": "password-123"})
    assert logged.status_code == 200, logged.text
    cookie = logged.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    csrf = logged.json()["csrf_token"]
    assert browser.get("/api/v1/rules").status_code == 200
    body = error(browser.post("/api/v1/rules", json=RULE), 403)
    assert "CSRF" in body["error"]
    error(browser.post("/api/v1/rules", json=RULE, headers={"X-CSRF-Token": "0" * 40}), 403)
    assert browser.post("/api/v1/rules", json=RULE, headers={"X-CSRF-Token": csrf}).status_code == 201
    form = api.client().post("/login", data={"username": "alice", "password": "password-123"})
    assert form.status_code == 303 and "newswatch_session=" in form.headers["set-cookie"]


def test_failed_logins_are_rate_limited(api: ApiServer) -> None:
    api.add_user("alice")
    client = api.client()
    for _ in range(5):
        error(client.post("/login", json={"username": "alice", "password": "wrong-password"}), 401)
    limited = client.post("/login", json={"username": "alice", "password": "password-123"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0


def test_setup_link_makes_the_first_admin_once(api: ApiServer) -> None:
    with api.app.sessions() as session:
        url = api.context.offer_setup(session)
    assert url and "/setup?token=" in url
    token = url.split("token=", 1)[1]
    client = api.client()
    error(
        client.post("/setup", json={"username": "first", "password": "password-123", "token": "wrong"}), 404
    )
    assert client.get(f"/setup?token={token}").status_code == 200
    made = client.post("/setup", json={"username": "first", "password": "password-123", "token": token})
    assert made.status_code == 200, made.text
    assert client.get("/api/v1/me").json() == {
        "name": "first",
        "admin": True,
        "via": "session",
        "csrf_token": made.json()["csrf_token"],
    }
    error(
        api.client().post("/setup", json={"username": "second", "password": "password-123", "token": token}),
        404,
    )
