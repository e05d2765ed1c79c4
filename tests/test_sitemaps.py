"""Sitemap parsing (crawler/sitemaps.py): indexes, news sitemaps, gzip, and hostile input."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest
from fixture_site import NewsSite

from crawler.items import HostileDocument
from crawler.sitemaps import parse_sitemap
from newswatch.demo.site import bundled_articles

BASE = "http://news.example"
URLSET = '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{}</urlset>'


@pytest.fixture(scope="module")
def renderer() -> NewsSite:
    return NewsSite(bundled_articles(datetime(2025, 5, 1, 12, tzinfo=UTC)))


def test_news_sitemap_gives_titles_dates_and_languages(renderer) -> None:
    articles = renderer.articles
    sitemap = parse_sitemap(renderer.news_sitemap(articles, BASE))
    assert sitemap.kind == "urlset"
    first = sitemap.entries[0]
    assert (first.loc, first.news_title, first.news_published) == (
        BASE + articles[0].path,
        articles[0].title,
        articles[0].published,
    )
    assert {e.news_language for e in sitemap.entries} == {"en", "ru"}


def test_index_children_come_newest_first(renderer) -> None:
    sitemap = parse_sitemap(renderer.sitemap_index(renderer.articles, BASE))
    assert sitemap.kind == "index"
    assert [e.loc for e in sitemap.entries] == [f"{BASE}/sitemaps/latest.xml", f"{BASE}/sitemaps/archive.xml"]


def test_undated_index_children_are_read_last_listed_first() -> None:
    body = (
        b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>http://a/1.xml</loc></sitemap><sitemap><loc>http://a/2.xml</loc></sitemap>"
        b"</sitemapindex>"
    )
    assert [e.loc for e in parse_sitemap(body).entries] == ["http://a/2.xml", "http://a/1.xml"]


def test_urls_sort_by_lastmod_with_undated_last() -> None:
    body = URLSET.format(
        "<url><loc>http://a/old</loc><lastmod>2024-01-01</lastmod></url>"
        "<url><loc>http://a/undated</loc></url>"
        "<url><loc>http://a/new</loc><lastmod>2024-06-01T10:00:00+02:00</lastmod></url>"
    ).encode()
    entries = parse_sitemap(body).entries
    assert [e.loc for e in entries] == ["http://a/new", "http://a/old", "http://a/undated"]
    assert entries[0].lastmod == datetime(2024, 6, 1, 8, tzinfo=UTC)


def test_gzipped_sitemap_is_unpacked() -> None:
    body = gzip.compress(URLSET.format("<url><loc>http://a/1</loc></url>").encode())
    assert [e.loc for e in parse_sitemap(body).entries] == ["http://a/1"]


def test_gzip_bomb_is_refused() -> None:
    body = gzip.compress(b"<urlset>" + b" " * (60 * 1024 * 1024))
    with pytest.raises(HostileDocument, match="unpacks to more than"):
        parse_sitemap(body, max_size=50 * 1024 * 1024)


def test_sitemap_with_a_dtd_is_refused() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "aaaa">]>' + URLSET.format("").encode()
    with pytest.raises(HostileDocument):
        parse_sitemap(body)


def test_malformed_sitemap_is_read_as_far_as_it_goes() -> None:
    body = URLSET.format(
        "<url><loc>http://a/1</loc></url><url><loc>http://a/2</loc></url><url><loc>http"
    ).encode()
    sitemap = parse_sitemap(body)
    assert [e.loc for e in sitemap.entries][:2] == ["http://a/1", "http://a/2"]
    assert sitemap.warnings and "malformed" in sitemap.warnings[0]


def test_an_html_page_is_not_a_sitemap() -> None:
    with pytest.raises(ValueError, match="not a sitemap"):
        parse_sitemap(b"<html><body>hello</body></html>")
