"""The store: what the crawler writes to the database, one small transaction at a time.

Every function takes an open `Session` first and is run on the crawl's database thread
(`CrawlContext.db`), never on the event loop.

Articles are written once, under their canonical URL; every URL that led to an article (as
discovered, normalised, after redirects, canonical) is kept in `article_urls`, so no variant
is ever fetched again. A new article is placed in a story: the story of an exact duplicate
(same `content_hash`) or a confirmed near duplicate (crawler.stories), else a new story. On a
source's first crawl, an article published before the backfill window (or undated) is stored
with `alertable = False`. `matched_at` stays NULL: the matcher picks the article up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crawler import stories
from crawler.extract import FeedEntry
from crawler.records import PollRecord
from crawler.work import ProcessedPage
from newswatch.config import Source as SourceConfig
from newswatch.models import URL_LENGTH, Article, ArticleUrl, CrawlRun, HttpCache, Source, Story, utcnow

SQL_BATCH = 500
NEAR_DUPLICATE_WINDOW = timedelta(days=7)


# ---------------------------------------------------------------------------- sources and polls


def ensure_source(session: Session, config: SourceConfig) -> Source:
    """Return the `sources` row of a configured source, created or updated to match the config."""
    row = session.scalar(select(Source).where(Source.name == config.name))
    if row is None:
        row = Source(name=config.name, kind=config.kind, url=config.url)
        session.add(row)
        session.flush()
    elif row.kind != config.kind or row.url != config.url:
        row.kind, row.url = config.kind, config.url
    return row


@dataclass
class PollStart:
    source_id: int
    run_id: int
    first_crawl: bool


def begin_poll(session: Session, config: SourceConfig, started_at: datetime) -> PollStart:
    """Record the start of a poll (a `crawl_runs` row) and return what the poll needs to know."""
    source = ensure_source(session, config)
    run = CrawlRun(source_id=source.id, started_at=started_at, status="running")
    session.add(run)
    source.last_poll_at = started_at
    session.flush()
    return PollStart(source_id=source.id, run_id=run.id, first_crawl=source.first_crawl_at is None)


def finish_poll(session: Session, record: PollRecord, finished_at: datetime) -> None:
    """Close the poll's `crawl_runs` row, update the source's health, keep validators."""
    if record.run_id is None or record.source_id is None:
        return
    run = session.get(CrawlRun, record.run_id)
    source = session.get(Source, record.source_id)
    if run is None or source is None:
        return
    run.finished_at = finished_at
    run.status = "ok" if record.ok else "failed"
    run.pages = record.fetched
    run.not_modified = record.not_modified
    run.new_articles = record.new
    run.duplicates = record.duplicates
    run.errors = record.errors
    run.error_summary = record.error_summary()
    if record.ok:
        source.last_success_at = finished_at
        source.consecutive_failures = 0
        if source.first_crawl_at is None:
            source.first_crawl_at = finished_at
        if not record.transient_failures:
            save_validators(session, record.validators, finished_at)
    else:
        source.consecutive_failures = (source.consecutive_failures or 0) + 1
    source.last_error = record.error_messages[0][:2000] if record.error_messages else None
    if record.created:
        source.last_new_article_at = finished_at


# ---------------------------------------------------------------------------- conditional GET


def get_validators(session: Session, url: str) -> tuple[str | None, str | None] | None:
    row = session.scalar(select(HttpCache).where(HttpCache.url == url[:URL_LENGTH]))
    return (row.etag, row.last_modified) if row else None


def save_validators(
    session: Session, validators: dict[str, tuple[str | None, str | None]], checked_at: datetime
) -> None:
    for url, (etag, last_modified) in validators.items():
        if len(url) > URL_LENGTH:
            continue
        row = session.scalar(select(HttpCache).where(HttpCache.url == url))
        if row is None:
            session.add(HttpCache(url=url, etag=etag, last_modified=last_modified, checked_at=checked_at))
        else:
            row.etag, row.last_modified, row.checked_at = etag, last_modified, checked_at


# ---------------------------------------------------------------------------- known URLs


def _batches(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), SQL_BATCH):
        yield items[start : start + SQL_BATCH]


def known_urls(session: Session, urls: Iterable[str]) -> dict[str, int]:
    """Return {url: article_id} for the given URLs that lead to a stored article."""
    wanted = sorted({u for u in urls if u and len(u) <= URL_LENGTH})
    found: dict[str, int] = {}
    for batch in _batches(wanted):
        for url, article_id in session.execute(
            select(ArticleUrl.url, ArticleUrl.article_id).where(ArticleUrl.url.in_(batch))
        ):
            found[url] = article_id
    return found


def remember_urls(session: Session, article_id: int, urls: Iterable[str]) -> int:
    """Record URL variants of an article (those not yet known); return how many were added."""
    fresh = [u for u in dict.fromkeys(urls) if u and len(u) <= URL_LENGTH]
    if not fresh:
        return 0
    existing = set(known_urls(session, fresh))
    added = 0
    for url in fresh:
        if url in existing:
            continue
        try:
            with session.begin_nested():
                session.add(ArticleUrl(url=url, article_id=article_id))
            added += 1
        except IntegrityError:  # another process recorded it meanwhile
            pass
    return added


def remember_known(session: Session, variants_by_article: dict[int, list[str]]) -> None:
    """Record newly seen variants (e.g. with tracking parameters) of already-stored articles."""
    for article_id, urls in variants_by_article.items():
        remember_urls(session, article_id, urls)


# ---------------------------------------------------------------------------- articles


@dataclass
class SaveResult:
    outcome: str  # "new" | "joined" | "duplicate"
    article_id: int
    story_id: int | None
    title: str = ""


def _refresh_index(session: Session, index: stories.SimhashIndex, now: datetime) -> None:
    """Bring the in-memory SimHash index up to date with rows written since (by anyone)."""
    cutoff = now - NEAR_DUPLICATE_WINDOW
    rows = session.execute(
        select(Article.id, Article.simhash, Article.story_id)
        .where(Article.id > index.last_article_id, Article.simhash.is_not(None), Article.fetched_at >= cutoff)
        .order_by(Article.id)
    )
    index.add_many(rows)
    if index.last_article_id == 0:
        index.last_article_id = session.scalar(select(func.max(Article.id))) or 0


def _near_duplicate_story(
    session: Session, index: stories.SimhashIndex, page: ProcessedPage
) -> tuple[int | None, int | None]:
    """Return (story_id, article_id) of a confirmed near duplicate, or (None, None)."""
    if page.simhash is None:
        return None, None
    for candidate in index.candidates(page.simhash):
        row = session.execute(
            select(Article.text, Article.story_id).where(Article.id == candidate.article_id)
        ).first()
        if row is not None and stories.is_near_duplicate(page.article.text, row.text):
            return row.story_id, candidate.article_id
    return None, None


def save_article(
    session: Session,
    index: stories.SimhashIndex,
    *,
    source_id: int,
    page: ProcessedPage,
    url: str,
    variants: list[str],
    feed_entry: FeedEntry | None,
    raw_html: str | None,
    first_crawl: bool,
    backfill: timedelta,
    poll_started_at: datetime,
) -> SaveResult:
    """Store the processed page as an article (or recognise it as already stored)."""
    canonical = page.canonical_url
    if len(canonical) > URL_LENGTH:
        raise ValueError(f"canonical URL longer than {URL_LENGTH} characters")
    all_urls = list(dict.fromkeys([*variants, canonical]))
    article = page.article
    title = (article.title or (feed_entry.title if feed_entry else "") or "").strip()

    existing = session.scalar(select(Article.id).where(Article.canonical_url == canonical))
    if existing is None:
        known = known_urls(session, all_urls)
        existing = next(iter(known.values()), None)
    if existing is None and page.dedupable:
        # The same text from the same source under another URL is the same article.
        existing = session.scalar(
            select(Article.id)
            .where(Article.content_hash == page.content_hash, Article.source_id == source_id)
            .order_by(Article.id)
            .limit(1)
        )
    if existing is not None:
        remember_urls(session, existing, all_urls)
        story_id = session.scalar(select(Article.story_id).where(Article.id == existing))
        return SaveResult("duplicate", existing, story_id, title)

    now = utcnow()
    _refresh_index(session, index, now)
    story_id = None
    if page.dedupable:
        story_id = session.scalar(
            select(Article.story_id)
            .where(Article.content_hash == page.content_hash, Article.story_id.is_not(None))
            .order_by(Article.id)
            .limit(1)
        )
    if story_id is None:
        story_id, _ = _near_duplicate_story(session, index, page)

    published = article.published or (feed_entry.published if feed_entry else None)
    updated = article.updated or (feed_entry.updated if feed_entry else None)
    alertable = True
    if first_crawl and (published is None or published < poll_started_at - backfill):
        alertable = False

    outcome = "joined" if story_id is not None else "new"
    try:
        with session.begin_nested():
            if story_id is None:
                story = Story(title=title or None, created_at=now)
                session.add(story)
                session.flush()
                story_id = story.id
            language = article.language or (feed_entry.language if feed_entry else None)
            row = Article(
                source_id=source_id,
                story_id=story_id,
                canonical_url=canonical,
                url=url[:URL_LENGTH],
                title=title,
                text=article.text or "",
                description=article.description or (feed_entry.summary if feed_entry else None),
                authors=list(article.authors or (feed_entry.authors if feed_entry else []) or []),
                language=language[:16] if language else None,
                site_name=(article.site_name or "")[:200] or None,
                published_at=published,
                updated_at=updated,
                fetched_at=now,
                content_hash=page.content_hash,
                simhash=page.simhash,
                alertable=alertable,
                matched_at=None,
                raw_html=raw_html,
            )
            session.add(row)
            session.flush()
    except IntegrityError:
        # Another process stored the same canonical URL a moment ago: that is our article.
        existing = session.scalar(select(Article.id).where(Article.canonical_url == canonical))
        if existing is None:
            raise
        remember_urls(session, existing, all_urls)
        return SaveResult("duplicate", existing, None, title)
    remember_urls(session, row.id, all_urls)
    index.add(row.id, page.simhash, story_id)
    return SaveResult(outcome, row.id, story_id, title)
