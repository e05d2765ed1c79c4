"""The store: what the crawler writes to the database, one small transaction at a time.

Every function takes an open `Session` (`save_article`: a Core `Connection`) first and never
runs on the event loop: the poll records, known-URL lookups and validators run on the crawling
process's database thread (`CrawlContext.db`), `save_article` in a pool worker
(crawler.ingest), after `serialise_writers`.

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

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crawler import stories
from crawler.records import PollRecord
from crawler.work import ProcessedPage
from newswatch.core.config import Source as SourceConfig
from newswatch.core.models import URL_LENGTH, Article, ArticleUrl, CrawlRun, HttpCache, Source, Story, utcnow
from newswatch.core.redact import display_url

SQL_BATCH = 500
INTERRUPTED = "interrupted: the process running this poll stopped before it finished"
NEAR_DUPLICATE_WINDOW = timedelta(days=7)


# ---------------------------------------------------------------------------- sources and polls


def ensure_source(session: Session, config: SourceConfig) -> Source:
    """Return the `sources` row of a configured source, created or updated to match the config."""
    row = session.scalar(select(Source).where(Source.name == config.name))
    shown = display_url(config.url)  # the config keeps the URL; the database its display form
    if row is None:
        row = Source(name=config.name, kind=config.kind, url=shown)
        session.add(row)
        session.flush()
    elif row.kind != config.kind or row.url != shown:
        row.kind, row.url = config.kind, shown
    return row


@dataclass
class PollStart:
    """What the rest of a poll needs from its start: the ids, whether it is the first crawl."""

    source_id: int
    run_id: int
    first_crawl: bool
    started_at: datetime


def begin_poll(session: Session, config: SourceConfig, started_at: datetime) -> PollStart:
    """Record the start of a poll (a `crawl_runs` row) and return what the poll needs to know."""
    serialise_writers(session)
    source = ensure_source(session, config)
    # A source is polled by one process at a time: a poll still "running" is one whose process
    # died (SIGKILL, power loss); it ends here rather than stay running forever.
    session.execute(
        update(CrawlRun)
        .where(CrawlRun.source_id == source.id, CrawlRun.status == "running")
        .values(
            status="failed", finished_at=started_at, errors=CrawlRun.errors + 1, error_summary=INTERRUPTED
        )
    )
    run = CrawlRun(source_id=source.id, started_at=started_at, status="running")
    session.add(run)
    source.last_poll_at = started_at
    session.flush()
    return PollStart(
        source_id=source.id, run_id=run.id, first_crawl=source.first_crawl_at is None, started_at=started_at
    )


def finish_poll(session: Session, record: PollRecord, finished_at: datetime) -> None:
    """Close the poll's `crawl_runs` row, update the source's health, keep validators."""
    if record.run_id is None or record.source_id is None:
        return
    serialise_writers(session)
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
    # Kept under the URL's display form: a feed's key stays out of the database.
    row = session.scalar(select(HttpCache).where(HttpCache.url == display_url(url)[:URL_LENGTH]))
    return (row.etag, row.last_modified) if row else None


def save_validators(
    session: Session, validators: dict[str, tuple[str | None, str | None]], checked_at: datetime
) -> None:
    for given, (etag, last_modified) in validators.items():
        url = display_url(given)
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


_KNOWN_URLS = select(ArticleUrl.url, ArticleUrl.article_id).where(
    ArticleUrl.url.in_(bindparam("urls", expanding=True))
)


def known_urls(session: Session | Connection, urls: Iterable[str]) -> dict[str, int]:
    """Return {url: article_id} for the given URLs that lead to a stored article."""
    wanted = sorted({u for u in urls if u and len(u) <= URL_LENGTH})
    found: dict[str, int] = {}
    for batch in _batches(wanted):
        for url, article_id in session.execute(_KNOWN_URLS, {"urls": batch}):
            found[url] = article_id
    return found


def remember_urls(
    session: Session | Connection, article_id: int, urls: Iterable[str], known: Iterable[str] = ()
) -> int:
    """Record URL variants of an article (those not yet known); return how many were added.

    `known`: URLs the caller already found in `article_urls` (saves a query)."""
    fresh = [u for u in dict.fromkeys(urls) if u and len(u) <= URL_LENGTH]
    skip = set(known)
    if not skip:
        skip = set(known_urls(session, fresh))
    rows = [{"url": u, "article_id": article_id, "seen_at": utcnow()} for u in fresh if u not in skip]
    if not rows:
        return 0
    try:
        with session.begin_nested():
            session.execute(INSERT_URL, rows)
        return len(rows)
    except IntegrityError:  # another process recorded some of them meanwhile: one by one
        added = 0
        for row in rows:
            try:
                with session.begin_nested():
                    session.execute(INSERT_URL, [row])
                added += 1
            except IntegrityError:
                pass
        return added


def remember_known(session: Session, variants_by_article: dict[int, list[str]]) -> None:
    """Record newly seen variants (e.g. with tracking parameters) of already-stored articles."""
    serialise_writers(session)
    for article_id, urls in variants_by_article.items():
        remember_urls(session, article_id, urls)


# ---------------------------------------------------------------------------- articles


@dataclass
class SaveResult:
    outcome: str  # "new" | "joined" | "duplicate"
    article_id: int
    story_id: int | None
    title: str = ""


def serialise_writers(session: Session | Connection) -> None:
    """Take the store's write lock for the rest of this transaction (call it first).

    SQLite: BEGIN IMMEDIATE (the database's one writer slot, waited for up to the busy
    timeout). PostgreSQL: a transaction-scoped advisory lock. Either way the checks and
    inserts of one save see every save committed before it, and on SQLite a transaction that
    reads and then writes cannot fail because another process wrote in between.
    """
    connection = session.connection() if isinstance(session, Session) else session
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({STORE_LOCK_KEY})")


STORE_LOCK_KEY = 7_316_525  # the advisory lock id of the article store


# Table-level statements, built once: the ORM's bulk-insert machinery costs more than the
# inserts themselves at one article per transaction.
INSERT_STORY = insert(Story.__table__).returning(Story.__table__.c.id)
INSERT_ARTICLE = insert(Article.__table__).returning(Article.__table__.c.id)
INSERT_URL = insert(ArticleUrl.__table__)
_SAME_TEXT = (
    select(Article.id, Article.source_id, Article.story_id)
    .where(Article.content_hash == bindparam("content_hash"))
    .order_by(Article.id)
    .limit(50)
)


_RECENT_SIMHASHES = (
    select(Article.id, Article.simhash, Article.story_id, Article.fetched_at)
    .where(
        Article.id > bindparam("after"),
        Article.simhash.is_not(None),
        Article.fetched_at >= bindparam("cutoff"),
    )
    .order_by(Article.id)
)
_TEXT_AND_STORY = select(Article.text, Article.story_id).where(Article.id == bindparam("id"))
_STORY_OF = select(Article.story_id).where(Article.id == bindparam("id"))


def refresh_index(connection: Connection, index: stories.SimhashIndex, now: datetime) -> None:
    """Bring the in-memory SimHash index up to date with rows written since its last refresh
    (by any process): an indexed range scan, usually returning nothing; forget those that have
    left the window."""
    cutoff = now - NEAR_DUPLICATE_WINDOW
    index.add_many(connection.execute(_RECENT_SIMHASHES, {"after": index.last_article_id, "cutoff": cutoff}))
    index.forget_fetched_before(cutoff)


def near_duplicate_story(
    connection: Connection, index: stories.SimhashIndex, page: ProcessedPage
) -> int | None:
    """Return the story of a confirmed near duplicate among recent articles, or None."""
    if page.simhash is None:
        return None
    for candidate in index.candidates(page.simhash):
        row = connection.execute(_TEXT_AND_STORY, {"id": candidate.article_id}).first()
        if (
            row is not None
            and row.story_id is not None
            and stories.is_near_duplicate(page.article.text, row.text)
        ):
            return row.story_id
    return None


def article_row(
    page: ProcessedPage,
    source_id: int,
    story_id: int,
    url: str,
    alertable: bool,
    now: datetime,
    raw_html: str | None = None,
) -> dict:
    """Return the `articles` row of a processed page, for INSERT_ARTICLE (`matched_at` NULL:
    the matcher picks it up)."""
    article = page.article
    language = article.language
    return {
        "source_id": source_id,
        "story_id": story_id,
        "canonical_url": page.canonical_url,
        "url": url[:URL_LENGTH],
        "title": article.title.strip(),
        "text": article.text or "",
        "description": article.description,
        "authors": list(article.authors),
        "language": language[:16] if language else None,
        "site_name": (article.site_name or "")[:200] or None,
        "published_at": article.published,
        "updated_at": article.updated,
        "fetched_at": now,
        "content_hash": page.content_hash,
        "simhash": page.simhash,
        "alertable": alertable,
        "matched_at": None,
        "raw_html": raw_html,
    }


def _duplicate(
    connection: Connection, article_id: int, all_urls: list[str], known: Iterable[str], title: str
) -> SaveResult:
    remember_urls(connection, article_id, all_urls, known)
    story_id = connection.scalar(_STORY_OF, {"id": article_id})
    return SaveResult("duplicate", article_id, story_id, title)


def save_article(
    connection: Connection,
    index: stories.SimhashIndex,
    *,
    source_id: int,
    page: ProcessedPage,
    url: str,
    variants: list[str],
    raw_html: str | None,
    first_crawl: bool,
    backfill: timedelta,
    poll_started_at: datetime,
) -> SaveResult:
    """Store the processed page as an article (or recognise it as already stored).

    A handful of statements per article (this runs for every page, in a pool worker):
    one lookup of the URLs, one of the content hash, then three inserts — Core statements
    built once, run on the transaction's `connection` (the ORM's per-statement work would
    cost more than the statements). On an IntegrityError (another process stored the
    article meanwhile) the transaction is rolled back and a new one records the URLs on
    the stored article."""
    canonical = page.canonical_url
    if len(canonical) > URL_LENGTH:
        raise ValueError(f"canonical URL longer than {URL_LENGTH} characters")
    all_urls = [u for u in dict.fromkeys([*variants, canonical]) if len(u) <= URL_LENGTH]
    article = page.article
    title = article.title.strip()  # the feed entry's fallbacks are in already (crawler.extract)

    # The canonical URL is always among an article's URLs, so one lookup covers both.
    known = known_urls(connection, all_urls)
    if known:
        return _duplicate(connection, next(iter(known.values())), all_urls, known, title)
    story_id = None
    if page.dedupable:
        same_text = connection.execute(_SAME_TEXT, {"content_hash": page.content_hash}).all()
        for row in same_text:  # the same text from the same source under another URL: same article
            if row.source_id == source_id:
                return _duplicate(connection, row.id, all_urls, (), title)
        story_id = next((row.story_id for row in same_text if row.story_id is not None), None)
    now = utcnow()
    if story_id is None:
        refresh_index(connection, index, now)
        story_id = near_duplicate_story(connection, index, page)

    published = article.published
    alertable = not (first_crawl and (published is None or published < poll_started_at - backfill))
    outcome = "joined" if story_id is not None else "new"
    try:
        if story_id is None:
            story_id = connection.execute(
                INSERT_STORY, {"title": title or None, "created_at": now}
            ).scalar_one()
        article_id = connection.execute(
            INSERT_ARTICLE, article_row(page, source_id, story_id, url, alertable, now, raw_html)
        ).scalar_one()
        connection.execute(
            INSERT_URL, [{"url": u, "article_id": article_id, "seen_at": now} for u in all_urls]
        )
    except IntegrityError:
        # Another process stored this article (or one of its URLs) a moment ago.
        connection.rollback()
        serialise_writers(connection)
        known = known_urls(connection, all_urls)
        if not known:
            raise
        return _duplicate(connection, next(iter(known.values())), all_urls, known, title)
    index.add(article_id, page.simhash, story_id)
    return SaveResult(outcome, article_id, story_id, title)
