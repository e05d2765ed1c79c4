"""Live pages: a live blog that keeps growing under one URL is fetched again on later polls,
and a new update alerts once (real Scrapy, real HTTP to the fixture site, real database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html import escape

import pytest
import yaml
from crawl_support import article, source
from fixture_site import NewsSite
from sqlalchemy import func, select

from alerts.delivery.outbox import process_new_articles
from alerts.rules.compiled import compile_rules
from crawler import livepages
from newswatch.app import load_checked_config
from newswatch.core.models import Alert, Article, LivePage

pytestmark = pytest.mark.timeout(240)

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
UPDATES = [
    ("Crew wakes to a pressure alarm", "An alarm woke the seven crew members when the cabin pressure fell."),
    ("Hatches closed as a precaution", "The crew closed the hatches between the modules and measured again."),
    (
        "Flight controllers compare data",
        "Controllers in Houston compared the pressure readings of every segment.",
    ),
]
NEW_UPDATE = (
    "Zvezda tunnel is the source",
    "Roscosmos said the leak is in the transfer tunnel and will be sealed on Tuesday by the cosmonauts.",
)


def live_page(updates: list[tuple[str, str]], ended: bool = False) -> bytes:
    """A live blog page: JSON-LD LiveBlogPosting with every update, the updates in the markup."""
    times = [START + timedelta(minutes=20 * i) for i in range(len(updates))]
    parts = [
        {"@type": "BlogPosting", "headline": h, "articleBody": b, "datePublished": t.isoformat()}
        for (h, b), t in zip(updates, times, strict=True)
    ]
    ld = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": "Station leak live",
        "datePublished": START.isoformat(),
        "coverageEndTime": (START - timedelta(minutes=1) if ended else START + timedelta(days=2)).isoformat(),
        "liveBlogUpdate": parts[::-1],
    }
    entries = "".join(
        f'<article class="entry"><time datetime="{t.isoformat()}">{t:%H:%M}</time>'
        f"<h2>{escape(h)}</h2><p>{escape(b)}</p></article>"
        for (h, b), t in reversed(list(zip(updates, times, strict=True)))
    )
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Station leak live</title>'
        f'<script type="application/ld+json">{json.dumps(ld)}</script></head><body>'
        f"<main><h1>Station leak live</h1><p>Follow the search for the air leak on the station.</p>"
        f'<div class="live">{entries}</div></main></body></html>'
    )
    return page.encode()


@pytest.fixture
def live_site():
    blog = article("station-leak-live", hours_ago=2, title="Station leak live", raw_html=live_page(UPDATES))
    with NewsSite([blog]) as site:
        yield site, blog


def _config(tmp_path, site: NewsSite):
    directory = tmp_path / "config"
    directory.mkdir()
    documents = {
        "sources.yaml": {"sources": [source("desk", "feed", f"{site.url}/feed.xml")]},
        "rules.yaml": {"rules": [{"name": "roscosmos", "query": "Roscosmos"}]},
        "subscribers.yaml": {
            "subscribers": [{"name": "ops", "notify": ["json://127.0.0.1:9/ops"], "rules": ["roscosmos"]}]
        },
    }
    for name, document in documents.items():
        (directory / name).write_text(yaml.safe_dump(document))
    return load_checked_config(directory)


def _alerts(sessions, config) -> int:
    with sessions() as session:
        process_new_articles(session, config, compile_rules(config.rules))
        session.commit()
        return session.scalar(select(func.count()).select_from(Alert))


def test_growing_live_blog_alerts_on_its_new_update_once(
    tmp_path, live_site, crawls, sessions, monkeypatch
) -> None:
    monkeypatch.setattr(livepages, "MIN_INTERVAL", timedelta(0))  # polls a second apart
    site, blog = live_site
    config = _config(tmp_path, site)
    run = crawls(config)

    first = run.poll("desk")
    assert (first.new, first.errors) == (1, 0), first.error_messages
    assert _alerts(sessions, config) == 0, "no update mentions Roscosmos yet"
    with sessions() as session:
        live = session.scalars(select(LivePage)).one()
        assert live.active and "Crew wakes to a pressure alarm" in live.seen_text

    site.publish(blog.__class__(**{**blog.__dict__, "raw_html": live_page([*UPDATES, NEW_UPDATE])}))
    site.clear_log()
    second = run.poll("desk")
    assert second.new == 1, second.error_messages
    assert site.hits(blog.path) == 1, "the live page is fetched again although its URL is stored"
    assert _alerts(sessions, config) == 1, "the new update alerts"
    with sessions() as session:
        update = session.scalars(select(Article).order_by(Article.id.desc())).first()
        assert "Roscosmos said the leak is in the transfer tunnel" in update.text
        assert "Crew wakes" not in update.text, "only the new update is the new article's text"
        assert update.url == site.url + blog.path and update.title.startswith("Station leak live")

    site.clear_log()
    third = run.poll("desk")
    assert (third.new, third.errors) == (0, 0)
    assert site.hits(blog.path) == 1, "still live: fetched on every poll"
    assert _alerts(sessions, config) == 1, "unchanged text alerts nobody again"


def test_live_blog_whose_coverage_ended_is_not_fetched_again(
    tmp_path, live_site, crawls, sessions, monkeypatch
) -> None:
    monkeypatch.setattr(livepages, "MIN_INTERVAL", timedelta(0))
    site, blog = live_site
    run = crawls(_config(tmp_path, site))
    run.poll("desk")
    site.publish(blog.__class__(**{**blog.__dict__, "raw_html": live_page(UPDATES, ended=True)}))
    run.poll("desk")  # fetched once more: the page now says the coverage has ended
    site.clear_log()
    run.poll("desk")
    assert site.hits(blog.path) == 0
    with sessions() as session:
        assert not session.scalars(select(LivePage)).one().active


def test_new_lines_are_the_ones_no_earlier_fetch_held() -> None:
    seen = "Intro line of the blog.\n09:00 UTC\nCrew wakes to a pressure alarm after midnight on the station."
    text = (
        "Intro line of the blog.\n10:00 UTC\nRoscosmos says the tunnel leaks and will be sealed.\n"
        "09:00 UTC\nCrew wakes to a pressure alarm after midnight on the station!"
    )
    assert livepages.new_lines(text, seen) == [
        "10:00 UTC",
        "Roscosmos says the tunnel leaks and will be sealed.",
    ]
