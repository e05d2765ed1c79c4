"""Live pages: a live blog that keeps growing under one URL, re-fetched while it grows.

Contract (README, "Live blogs"):
- An article the extractor marks as a live blog (`ExtractedArticle.live`) is registered as a
  live page when it is first stored, in the same transaction.
- Every poll of its source fetches it again — the one exception to "a stored URL is never
  fetched again" — while it is active: it changed within `QUIET` (12 h), was first seen less
  than `LIFETIME` (3 days) ago, has been re-fetched fewer than `MAX_REFETCHES` (500) times,
  and was not fetched in the last `MIN_INTERVAL` (60 s: polls in quick succession fetch once).
  At most `MAX_PER_POLL` (20) of a source's live pages are fetched per poll, the most recently
  changed first. A page that is no longer a live blog (its coverage ended), or is gone (404,
  410), stops being fetched, and so does one past its limits.
- A re-fetch stores the text no earlier fetch held (lines whose word 4-grams are mostly new,
  at least `MIN_NEW_WORDS` words in all) as a new article: the live blog's title and URL, the
  new lines as its text, a canonical URL of its own (`…#live-update-<hash of the text>`) and
  a story of its own unless it is a near duplicate of a stored article. The matcher picks it
  up like any new article, so its rules alert once per (subscriber, story): a new update can
  alert, an unchanged page writes nothing, and a page fetched twice with the same new text
  stores it once (the canonical URL is unique). The article of the first fetch is never
  changed. The update article and the live page's new state commit together: after a crash
  the next poll finds the same new text again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crawler import store, stories
from crawler.work import ProcessedPage, fingerprinted
from newswatch.core.models import URL_LENGTH, Article, LivePage, Source

QUIET = timedelta(hours=12)
LIFETIME = timedelta(days=3)
MAX_REFETCHES = 500
MAX_PER_POLL = 20
MIN_INTERVAL = timedelta(seconds=60)
MIN_NEW_WORDS = 8
MAX_SEEN_CHARS = 2_000_000
MAX_TITLE_CHARS = 300


@dataclass
class DueLivePage:
    """A live page to fetch in this poll."""

    id: int
    url: str


def register(
    connection: Connection, *, article_id: int, source_id: int, url: str, text: str, now: datetime
) -> None:
    """Record a newly stored live blog as a live page (inside the caller's transaction)."""
    exists = select(LivePage.id).where(LivePage.article_id == article_id)
    if connection.execute(exists).first() is not None:
        return
    connection.execute(
        insert(LivePage).values(
            article_id=article_id,
            source_id=source_id,
            url=url[:URL_LENGTH],
            active=True,
            first_seen_at=now,
            last_fetched_at=now,
            last_changed_at=now,
            fetches=0,
            updates=0,
            seen_text=text[:MAX_SEEN_CHARS],
        )
    )


def due(session: Session, source_name: str, now: datetime) -> list[DueLivePage]:
    """Return the source's live pages to fetch in this poll (and retire those past their limits)."""
    store.serialise_writers(session)
    rows = session.scalars(
        select(LivePage)
        .join(Source, Source.id == LivePage.source_id)
        .where(Source.name == source_name, LivePage.active.is_(True))
        .order_by(LivePage.last_changed_at.desc(), LivePage.id)
    ).all()
    wanted = []
    for row in rows:
        if (
            row.last_changed_at < now - QUIET
            or row.first_seen_at < now - LIFETIME
            or row.fetches >= MAX_REFETCHES
        ):
            row.active = False
        elif row.last_fetched_at <= now - MIN_INTERVAL and len(wanted) < MAX_PER_POLL:
            wanted.append(DueLivePage(row.id, row.url))
    return wanted


def retire(session: Session, live_page_id: int) -> None:
    """Stop fetching a live page (it is gone)."""
    session.execute(update(LivePage).where(LivePage.id == live_page_id).values(active=False))


def new_lines(text: str, seen_text: str) -> list[str]:
    """Return the lines of `text` that `seen_text` does not hold: lines whose word 4-grams
    are mostly new (a short line, such as an update's time, counts as new when it is not a
    line seen before)."""
    seen = stories_shingles(seen_text)
    seen_lines = {" ".join(line.split()) for line in seen_text.splitlines()}
    fresh = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line or line in seen_lines:
            continue
        have = stories_shingles(line)
        if have and len(have & seen) >= 0.5 * len(have):
            continue
        fresh.append(line)
    return fresh


def stories_shingles(text: str) -> set[tuple[str, ...]]:
    """Return the word 4-grams of a text, folded as the duplicate detection folds words."""
    words = stories.fingerprint_words(text)
    return {tuple(words[i : i + 4]) for i in range(max(0, len(words) - 3))}


def _merged(seen_text: str, text: str) -> str:
    """Return the text seen so far: the page's text now, then earlier lines it no longer shows."""
    now_lines = {" ".join(line.split()) for line in text.splitlines()}
    older = [line for line in seen_text.splitlines() if " ".join(line.split()) not in now_lines]
    return "\n".join([text, *older])[:MAX_SEEN_CHARS]


def save_update(
    connection: Connection,
    index: stories.SimhashIndex,
    *,
    live_page_id: int,
    page: ProcessedPage,
    now: datetime,
) -> store.SaveResult:
    """Store what a re-fetch of a live page shows that no earlier fetch did (see the module
    docstring); the caller has taken the store's write lock and commits."""
    live = connection.execute(select(LivePage).where(LivePage.id == live_page_id)).first()
    parent = (
        connection.execute(
            select(Article.id, Article.title, Article.url, Article.canonical_url, Article.story_id).where(
                Article.id == live.article_id
            )
        ).first()
        if live is not None
        else None
    )
    if live is None or parent is None:
        return store.SaveResult("duplicate", 0, None, "")
    state = {"fetches": live.fetches + 1, "last_fetched_at": now, "active": live.active and page.article.live}
    fresh = new_lines(page.article.text or "", live.seen_text)
    if sum(len(line.split()) for line in fresh) < MIN_NEW_WORDS:
        connection.execute(update(LivePage).where(LivePage.id == live.id).values(**state))
        return store.SaveResult("duplicate", parent.id, parent.story_id, parent.title)
    result = _insert_update(connection, index, live, parent, page, "\n".join(fresh), now)
    state.update(
        seen_text=_merged(live.seen_text, page.article.text or ""),
        last_changed_at=now,
        updates=live.updates + (result.outcome != "duplicate"),
    )
    connection.execute(update(LivePage).where(LivePage.id == live.id).values(**state))
    return result


def _insert_update(
    connection, index, live, parent, page: ProcessedPage, text: str, now: datetime
) -> store.SaveResult:
    headline = next((line for line in text.splitlines() if not line.endswith(" UTC")), "")
    title = f"{parent.title} — {headline}" if headline else parent.title
    title = title[:MAX_TITLE_CHARS]
    article = replace(page.article, title=title, text=text, url=parent.url, published=now, updated=None)
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
    canonical = f"{parent.canonical_url[: URL_LENGTH - 40]}#live-update-{digest}"
    update_page = fingerprinted(article, canonical)
    known = store.known_urls(connection, [canonical])
    if known:
        return store.SaveResult("duplicate", next(iter(known.values())), None, title)
    store.refresh_index(connection, index, now)
    story_id = store.near_duplicate_story(connection, index, update_page)
    try:
        with connection.begin_nested():
            if story_id is None:
                story_id = connection.execute(
                    store.INSERT_STORY, {"title": title, "created_at": now}
                ).scalar_one()
            article_id = connection.execute(
                store.INSERT_ARTICLE,
                store.article_row(update_page, live.source_id, story_id, parent.url, True, now),
            ).scalar_one()
            connection.execute(
                store.INSERT_URL, [{"url": canonical, "article_id": article_id, "seen_at": now}]
            )
    except IntegrityError:  # another process stored the same update a moment ago
        return store.SaveResult("duplicate", 0, None, title)
    index.add(article_id, update_page.simhash, story_id)
    return store.SaveResult("new", article_id, story_id, title)
