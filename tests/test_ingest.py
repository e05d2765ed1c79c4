"""Ingest (crawler/ingest.py, crawler/store.py): one fetched page → one stored article, in one
transaction on a Core connection; a second sighting under another URL is the same article."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crawler import ingest as ingest_module
from crawler import store
from crawler.ingest import IngestJob, ingest
from newswatch.core.db import session_scope
from newswatch.core.models import Article, ArticleUrl, Source, Story
from newswatch.demo.site import DemoSite, bundled_articles

pytestmark = pytest.mark.timeout(120)

BASE = "http://news.example.org"


@pytest.fixture
def source_id(db_url, sessions) -> int:
    with session_scope(sessions) as session:
        row = Source(name="desk", kind="feed", url=f"{BASE}/feed.xml")
        session.add(row)
        session.flush()
        created = row.id
    yield created
    engine = ingest_module._ENGINES.pop(db_url, None)
    ingest_module._INDEXES.pop(db_url, None)
    if engine is not None:
        engine.dispose()


def _job(db_url: str, source_id: int, url: str, html: str, variants: list[str]) -> IngestJob:
    return IngestJob(
        database_url=db_url,
        source_id=source_id,
        url=url,
        html=html,
        variants=variants,
        feed_entry=None,
        first_crawl=False,
        backfill=timedelta(hours=24),
        poll_started_at=datetime.now(UTC),
    )


def _page() -> tuple[str, str]:
    article = bundled_articles()[0]
    site = DemoSite([article])
    return f"{BASE}{article.path}", site.article_page(article, BASE)


def test_a_page_is_stored_once_and_its_other_urls_join_it(db_url, source_id, sessions) -> None:
    url, html = _page()
    first = ingest(_job(db_url, source_id, url, html, [url]))
    tracked = url + "?utm_source=feed"
    again = ingest(_job(db_url, source_id, tracked, html, [tracked, url]))
    assert first.outcome == "new" and first.cpu_ms > 0
    assert again.outcome == "duplicate" and again.article_id == first.article_id
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 1
        assert session.scalar(select(func.count()).select_from(Story)) == 1
        urls = set(session.scalars(select(ArticleUrl.url).where(ArticleUrl.article_id == first.article_id)))
        assert {url, tracked} <= urls
        stored = session.get(Article, first.article_id)
        assert stored.raw_html == html and stored.story_id == first.story_id and stored.text


def test_an_article_stored_by_another_process_meanwhile_becomes_a_duplicate(
    db_url, source_id, sessions, monkeypatch
) -> None:
    url, html = _page()
    first = ingest(_job(db_url, source_id, url, html, [url]))
    with session_scope(sessions) as session:
        wire = Source(name="wire", kind="feed", url="http://wire.example.org/feed.xml")
        session.add(wire)
        session.flush()
        wire_id = wire.id
    # The race the write lock normally prevents: the URL check misses the stored article once,
    # so the insert fails on the unique canonical URL; a new transaction must then find the
    # article and keep the new URL.
    real_known, real_lock = store.known_urls, store.serialise_writers
    misses, locks = iter([True]), []
    monkeypatch.setattr(
        store, "known_urls", lambda conn, urls: {} if next(misses, False) else real_known(conn, urls)
    )
    monkeypatch.setattr(store, "serialise_writers", lambda conn: locks.append(1) or real_lock(conn))
    other = f"{BASE}/amp{url.removeprefix(BASE)}"
    again = ingest(_job(db_url, wire_id, other, html, [other]))
    assert len(locks) == 2  # the failed transaction, then the one that recorded the duplicate
    assert again.outcome == "duplicate" and again.article_id == first.article_id
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 1
        assert (
            session.scalar(select(func.count()).select_from(ArticleUrl).where(ArticleUrl.url == other)) == 1
        )


def test_a_page_with_lone_surrogates_is_stored_with_them_replaced(db_url, source_id, sessions) -> None:
    url, html = _page()
    assert "The two agencies" in html
    html = html.replace("The two agencies", "The two&#xD800; agencies &#xDFFF;", 1)
    html = html.replace("<title>", "<title>&#xD834;", 1)
    result = ingest(_job(db_url, source_id, url, html, [url]))
    assert result.outcome == "new"
    with sessions() as session:
        article = session.get(Article, result.article_id)
        stored = article.title + article.text + (article.description or "")
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in stored)
    assert "The two\ufffd agencies" in stored
