"""The archive through the API: article search, `rules/test` (what `newswatch rules test`
shows), `rules/{name}/diff` by story, the Atom feeds (parsed by feedparser) and the OPML round
trip of sources between two deployments."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import feedparser
import httpx
from alert_helpers import add_article, write_config
from api_support import SUBSCRIBERS, ApiServer, admin, api, error  # noqa: F401  (fixtures)

from newswatch.core.models import Story, utcnow


def _archive(api: ApiServer) -> None:
    now = utcnow()
    api.store_article(
        "Roscosmos signs a cargo deal", "Roscosmos signed a deal for cargo flights.", published_at=now
    )
    with api.app.sessions() as session:
        story = Story(title="copy")
        session.add(story)
        session.commit()
        story_id = story.id
    with api.app.sessions() as session:
        story = session.get(Story, story_id)
        for n in range(2):  # two copies of one story
            add_article(
                session,
                "ISS deorbit vehicle passes review",
                "The vehicle that will deorbit the ISS passed a review, Roscosmos noted.",
                story=story,
                source_name="tass-en" if n else "nasa-news",
                published_at=now - timedelta(days=1, hours=n),
            )
    api.store_article(
        "Artemis crew named", "NASA named the Artemis crew.", published_at=now - timedelta(days=3)
    )


def test_articles_search_with_the_query_language(api: ApiServer, admin: httpx.Client) -> None:
    _archive(api)
    found = admin.get("/api/v1/articles", params={"q": "Roscosmos", "since": "30d"}).json()
    assert [a["title"] for a in found][0] == "Roscosmos signs a cargo deal"
    assert len(found) == 3 and "**Roscosmos**" in found[0]["snippet"]
    assert len(admin.get("/api/v1/articles", params={"limit": 2}).json()) == 2
    assert [
        a["source"]
        for a in admin.get("/api/v1/articles", params={"q": "deorbit", "source": "tass-en"}).json()
    ] == ["tass-en"]
    body = error(admin.get("/api/v1/articles", params={"q": 'ISS AND "deorbit'}), 422)
    assert body["field"] == "q" and body["column"] == 9
    assert error(admin.get("/api/v1/articles", params={"since": "soon"}), 422)["field"] == "since"
    assert error(admin.get("/api/v1/articles", params={"source": "nowhere"}), 422)["field"] == "source"


def test_rules_test_shows_hits_per_day_and_samples(api: ApiServer, admin: httpx.Client) -> None:
    _archive(api)
    trial = admin.post("/api/v1/rules/test", json={"query": "Roscosmos", "since": "30d"})
    assert trial.status_code == 200, trial.text
    body = trial.json()
    assert body["total"] == 3 and sum(body["per_day"].values()) == 3
    assert {"title", "url", "source", "published_at", "snippet"} <= set(body["samples"][0])
    assert error(admin.post("/api/v1/rules/test", json={"query": "(Roscosmos"}), 422)["column"] is not None
    assert (
        error(admin.post("/api/v1/rules/test", json={"query": "x", "since": "yesterday"}), 422)["field"]
        == "since"
    )


def test_rule_diff_lists_stories_an_edit_adds_and_removes(api: ApiServer, admin: httpx.Client) -> None:
    _archive(api)
    diff = admin.post("/api/v1/rules/roscosmos/diff", json={"query": "deorbit OR Artemis"})
    assert diff.status_code == 200, diff.text
    body = diff.json()
    assert [a["title"] for a in body["added"]] == ["Artemis crew named"]
    assert [a["title"] for a in body["removed"]] == ["Roscosmos signs a cargo deal"]
    assert body["unchanged"] == 1  # the deorbit story, counted once for its two copies
    error(admin.post("/api/v1/rules/nothing/diff", json={"query": "x"}), 404)
    assert (
        error(admin.post("/api/v1/rules/roscosmos/diff", json={"query": "a NEAR/x b"}), 422)["field"]
        == "query"
    )


def test_atom_feeds_parse_with_one_entry_per_story(api: ApiServer, admin: httpx.Client) -> None:
    _archive(api)
    api.match_new()
    rule_feed = admin.get("/api/v1/rules/roscosmos").json()["feed_url"]
    response = api.client().get(rule_feed.removeprefix(api.url))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    titles = [e.title for e in feed.entries]
    assert sorted(titles) == ["ISS deorbit vehicle passes review", "Roscosmos signs a cargo deal"]
    assert "<b>Roscosmos</b>" in feed.entries[0].summary
    sub_feed = admin.get("/api/v1/subscribers/ops").json()["feed_url"]
    feed = feedparser.parse(api.client().get(sub_feed.removeprefix(api.url)).content)
    assert not feed.bozo and len(feed.entries) == 2
    assert all(e.link.startswith("https://") for e in feed.entries)


def test_opml_export_imports_into_another_deployment(
    api: ApiServer, admin: httpx.Client, tmp_path: Path, db_url: str
) -> None:
    admin.post(
        "/api/v1/sources",
        json={"name": "esa-sitemap", "sitemap": "https://esa.example.org/sitemap.xml", "every": "1h"},
    )
    admin.post(
        "/api/v1/sources",
        json={"name": "roscosmos-site", "listing": "https://rs.example.org/news/", "links": "h2 a"},
    )
    exported = admin.get("/api/v1/sources/export")
    assert exported.status_code == 200 and b"<opml" in exported.content
    other_config = tmp_path / "other"
    write_config(other_config, SUBSCRIBERS)
    (other_config / "sources.yaml").write_text("sources: []\n")
    (other_config / "rules.yaml").write_text("rules:\n  - name: roscosmos\n    query: Roscosmos\n")
    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    other = ApiServer(other_config, other_db).start()
    try:
        other_admin = other.as_user("root", admin=True)
        imported = other_admin.post(
            "/api/v1/sources/import", content=exported.content, headers={"content-type": "text/x-opml"}
        )
        assert imported.status_code == 200, imported.text
        assert len(imported.json()["created"]) == 5 and imported.json()["skipped"] == []
        again = other_admin.post("/api/v1/sources/import", content=exported.content)
        assert again.json()["created"] == [] and len(again.json()["skipped"]) == 5
        theirs = {s["name"]: s for s in other_admin.get("/api/v1/sources").json()}
        ours = {s["name"]: s for s in admin.get("/api/v1/sources").json()}
        keys = ("kind", "url", "links", "every", "backfill", "enabled")
        assert {n: [s[k] for k in keys] for n, s in theirs.items()} == {
            n: [s[k] for k in keys] for n, s in ours.items()
        }
        error(
            other_admin.post("/api/v1/sources/import", content=b"<!DOCTYPE x [<!ENTITY a 'b'>]><opml/>"), 400
        )
        error(other_admin.post("/api/v1/sources/import", content=b"not xml"), 400)
        bad = b'<opml version="2.0"><body><outline text="x" xmlUrl="ftp://x.example.org/feed"/></body></opml>'
        assert error(other_admin.post("/api/v1/sources/import", content=bad), 422)["field"] == "feed"
        error(other.as_user("alice").post("/api/v1/sources/import", content=exported.content), 403)
    finally:
        other.stop()


def test_source_preview_shows_discovered_articles_and_one_extracted(
    api: ApiServer, admin: httpx.Client, site
) -> None:
    feed = f"{site.url}/feed.xml"
    body = error(admin.post("/api/v1/sources/preview", json={"feed": feed}), 422)
    assert body["field"] == "feed" and "loopback" in body["error"]
    answer = admin.post("/api/v1/sources/preview", json={"feed": feed, "allow_private": True})
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["found"] >= 1 and preview["discovered"][0]["url"].startswith(site.url)
    assert preview["article"]["title"] and len(preview["article"]["text"]) > 100
    error(
        api.as_user("alice").post("/api/v1/sources/preview", json={"feed": feed, "allow_private": True}), 403
    )
    error(admin.post("/api/v1/sources/preview", json={"listing": f"{site.url}/"}), 422)
