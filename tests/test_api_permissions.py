"""Permissions, by test: user A cannot read or change B's rules, subscribers, alerts,
deliveries or tokens — by name or by id — and gets the same 404 as for what does not exist.
Admins see everything."""

from __future__ import annotations

import httpx
from api_support import ApiServer, admin, api, error  # noqa: F401  (fixtures)
from sqlalchemy import select, update

from newswatch.core.models import Delivery


def _alice_with_an_alert(api: ApiServer) -> httpx.Client:
    alice = api.as_user("alice")
    assert alice.post("/api/v1/rules", json={"name": "alice-esa", "query": "ESA"}).status_code == 201
    made = alice.post(
        "/api/v1/subscribers",
        json={"name": "alice-desk", "notify": ["json://hooks.example.org/alice"], "rules": ["alice-esa"]},
    )
    assert made.status_code == 201, made.text
    api.store_article("ESA picks a new launcher", "ESA said on Monday it picked a launcher.")
    assert api.match_new() == 1
    return alice


def test_a_user_cannot_reach_another_users_rules_or_subscribers(api: ApiServer, admin: httpx.Client) -> None:
    _alice_with_an_alert(api)
    bob = api.as_user("bob")
    assert "alice-esa" not in [r["name"] for r in bob.get("/api/v1/rules").json()]
    assert "alice-desk" not in [s["name"] for s in bob.get("/api/v1/subscribers").json()]
    for method, path, body in (
        ("GET", "/api/v1/rules/alice-esa", None),
        ("PATCH", "/api/v1/rules/alice-esa", {"query": "NASA"}),
        ("DELETE", "/api/v1/rules/alice-esa", None),
        ("POST", "/api/v1/rules/alice-esa/diff", {"query": "NASA"}),
        ("GET", "/api/v1/subscribers/alice-desk", None),
        ("PATCH", "/api/v1/subscribers/alice-desk", {"rules": ["roscosmos"]}),
        ("DELETE", "/api/v1/subscribers/alice-desk", None),
        ("POST", "/api/v1/subscribers/alice-desk/test", None),
    ):
        answer = error(bob.request(method, path, json=body), 404)
        assert answer == error(bob.request(method, path.replace("alice", "nobody"), json=body), 404) | {
            "error": answer["error"]
        }
    # B cannot subscribe to A's rule either (it does not exist for B)
    body = error(
        bob.post(
            "/api/v1/subscribers",
            json={"name": "bob", "notify": ["json://h.example.org/b"], "rules": ["alice-esa"]},
        ),
        422,
    )
    assert body["field"] == "rules"
    # config-file subscribers are admins' business
    error(bob.get("/api/v1/subscribers/ops"), 404)
    # the admin sees and may change both
    assert admin.get("/api/v1/rules/alice-esa").json()["owner"] == "alice"
    assert admin.patch("/api/v1/rules/alice-esa", json={"query": "ESA OR Ariane"}).status_code == 200


def test_a_user_sees_only_their_own_alerts_and_retries_only_their_deliveries(
    api: ApiServer, admin: httpx.Client
) -> None:
    alice = _alice_with_an_alert(api)
    bob = api.as_user("bob")
    alerts = alice.get("/api/v1/alerts").json()
    assert [a["subscriber"] for a in alerts] == ["alice-desk"]
    assert alerts[0]["title"] == "ESA picks a new launcher" and alerts[0]["status"] == "pending"
    assert alerts[0]["deliveries"][0]["destination"].startswith("json://hooks.example.org")
    assert bob.get("/api/v1/alerts").json() == []
    delivery_id = alerts[0]["deliveries"][0]["id"]
    with api.app.sessions() as session:
        session.execute(update(Delivery).values(status="failed", attempts=8, last_error="HTTP 500"))
        session.commit()
    assert [a["id"] for a in alice.get("/api/v1/alerts?status=failed").json()] == [alerts[0]["id"]]
    assert alice.get("/api/v1/alerts?status=sent").json() == []
    error(alice.get("/api/v1/alerts?status=lost"), 422)
    error(bob.post(f"/api/v1/deliveries/{delivery_id}/retry"), 404)
    error(bob.post("/api/v1/deliveries/999999/retry"), 404)
    retried = alice.post(f"/api/v1/deliveries/{delivery_id}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    with api.app.sessions() as session:
        assert session.scalar(select(Delivery.attempts).where(Delivery.id == delivery_id)) == 0
    assert {a["subscriber"] for a in admin.get("/api/v1/alerts").json()} == {"alice-desk"}


def test_a_users_feed_is_not_opened_by_another_token(api: ApiServer) -> None:
    alice = _alice_with_an_alert(api)
    bob = api.as_user("bob")
    feed = alice.get("/api/v1/rules/alice-esa").json()["feed_url"]
    path = feed.removeprefix(api.url)
    assert api.client().get(path).status_code == 200  # the feed token alone opens it, read-only
    error(api.client().get(path.split("?")[0] + "?token=guess"), 404)
    bob_token = bob.headers["authorization"].split()[1]
    error(api.client().get(path.split("?")[0] + f"?token={bob_token}"), 404)
    error(api.client().post(path), 405)
