"""Feed parsing (crawler/feeds.py): bytes in, entries out — never a fetch, never a bomb."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from fixture_feeds import BOMB_FEED
from fixture_site import NewsSite

from crawler.extract import extract_article
from crawler.feeds import parse_feed
from crawler.items import HostileDocument
from newswatch.demo.site import bundled_articles

BASE = "http://news.example"


@pytest.fixture(scope="module")
def renderer() -> NewsSite:
    return NewsSite(bundled_articles(datetime(2025, 5, 1, 12, tzinfo=UTC)))


@pytest.mark.parametrize("kind", ["rss2", "atom", "rss1", "rss091"])
def test_every_format_gives_links_titles_and_order(renderer, kind: str) -> None:
    articles = renderer.articles
    body = getattr(renderer, kind)(articles, BASE)
    feed = parse_feed(body, f"{BASE}/feed", "application/xml")
    assert feed.warnings == []
    assert [e.url for e in feed.entries] == [BASE + a.path for a in articles]
    assert feed.entries[0].title == articles[0].title
    if kind != "rss091":  # RSS 0.91 items carry no dates
        assert feed.entries[0].published == articles[0].published


def test_entries_are_sorted_newest_first_when_all_are_dated(renderer) -> None:
    articles = renderer.articles
    body = renderer.rss2(list(reversed(articles)), BASE)
    assert [e.url for e in parse_feed(body, BASE).entries] == [BASE + a.path for a in articles]


def test_entity_bomb_is_refused_quickly() -> None:
    started = time.perf_counter()
    with pytest.raises(HostileDocument, match="entities"):
        parse_feed(BOMB_FEED, BASE)
    assert time.perf_counter() - started < 1


def test_entity_declared_after_a_long_comment_is_still_refused() -> None:
    body = b'<?xml version="1.0"?>\n<!--' + b"x" * 100_000 + b'-->\n<!DOCTYPE r [<!ENTITY a "b">]><rss/>'
    with pytest.raises(HostileDocument):
        parse_feed(body, BASE)


def test_malformed_feed_keeps_the_items_before_the_damage(renderer) -> None:
    feed = parse_feed(renderer.malformed(renderer.articles, BASE), BASE)
    assert [e.url for e in feed.entries] == [BASE + a.path for a in renderer.articles[:2]]
    assert feed.warnings and feed.warnings[0].startswith("malformed feed")


def test_bytes_spelling_a_path_or_url_are_data_not_instructions(tmp_path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(
        b'<rss version="2.0"><channel><item><link>http://leak.example/a</link></item></channel></rss>'
    )
    for body in (str(secret).encode(), b"http://127.0.0.1:9/feed.xml"):
        feed = parse_feed(body, BASE)
        assert feed.entries == []
        assert feed.warnings[0].startswith("not a feed")


def test_relative_links_resolve_against_the_feed_url() -> None:
    body = (
        b'<rss version="2.0"><channel><item><title>t</title><link>/news/a.html</link></item></channel></rss>'
    )
    assert (
        parse_feed(body, "https://site.example/feeds/all.xml").entries[0].url
        == "https://site.example/news/a.html"
    )


def test_windows_1251_feed_decodes() -> None:
    body = (
        '<?xml version="1.0" encoding="windows-1251"?><rss version="2.0"><channel>'
        "<item><title>Роскосмос и МКС</title><link>https://tass.example/1</link></item></channel></rss>"
    ).encode("cp1251")
    assert parse_feed(body, BASE).entries[0].title == "Роскосмос и МКС"


def test_a_reference_to_a_lone_surrogate_does_not_lose_the_feed() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Deorbit &#xD800; plan</title><link>http://x.org/a</link>"
        b"<description>Body &#56320; text &#x41;</description></item>"
        b"<item><title>Second</title><link>http://x.org/b</link></item></channel></rss>"
    )
    feed = parse_feed(body, "http://x.org/feed.xml")
    assert [e.url for e in feed.entries] == ["http://x.org/a", "http://x.org/b"]
    assert feed.entries[0].title == "Deorbit \ufffd plan"
    assert feed.entries[0].summary == "Body \ufffd text A"


def test_a_lone_surrogate_in_json_ld_is_replaced_in_the_article() -> None:
    html = (
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", "headline": '
        '"Crew \\ud800 returns", "articleBody": "The crew returned \\udfff safely after the deorbit burn."}'
        "</script></head><body><p>x</p></body></html>"
    )
    article = extract_article(html, "http://x.org/a")
    stored = article.title + article.text
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in stored)
    stored.encode("utf-8")  # the database would refuse it otherwise
