"""Ingest: one fetched page → extracted, fingerprinted and stored, inside a pool worker.

The store pipeline hands each page to the process pool as an `IngestJob`; the worker runs
`crawler.work.process_page` (extraction, canonical URL, hashes) and then
`crawler.store.save_article` on its own database connection, and sends back a small
`IngestResult`. Doing the storing in the worker too keeps the crawling process to fetching:
its event loop never waits for SQL, and no busy thread competes with it for the GIL.

Writers are serialised (`crawler.store.serialise_writers`): a save's checks for known URLs,
identical text and near duplicates and its inserts happen as one unit, so two workers (or two
processes) storing the same story at the same moment still put it in one story.
"""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from crawler import livepages, store
from crawler.items import FeedEntry
from crawler.stories import SimhashIndex
from crawler.work import ProcessedPage, process_page
from newswatch.core.db import make_engine
from newswatch.core.models import utcnow

_ENGINES: dict[str, object] = {}
_INDEXES: dict[str, object] = {}


@dataclass
class IngestJob:
    """Everything a worker needs to store one page (picklable, no open resources)."""

    database_url: str
    source_id: int
    url: str
    html: str
    variants: list[str]
    feed_entry: FeedEntry | None
    first_crawl: bool
    backfill: timedelta
    poll_started_at: datetime
    keep_html: bool = True
    live_page_id: int | None = None  # a re-fetch of a live page (crawler.livepages)


@dataclass
class IngestResult:
    outcome: str  # "new" | "joined" | "duplicate" (a live page's re-fetch: "new" = a new update)
    article_id: int
    story_id: int | None
    canonical_url: str
    title: str
    extract_ms: float
    cpu_ms: float  # the worker's CPU time for this page (extraction + storage)
    worker_pid: int = 0
    worker_cpu_s: float = 0.0  # the worker process's CPU time so far (for whole-process accounting)


def _engine(database_url: str):
    """Return this process's engine and SimHash index for the database."""
    if database_url not in _ENGINES:
        _ENGINES[database_url] = make_engine(database_url, pool_size=1, max_overflow=1)
        _INDEXES[database_url] = SimhashIndex()
    return _ENGINES[database_url], _INDEXES[database_url]


def ingest_many(jobs: list[IngestJob]) -> list[IngestResult | Exception]:
    """`ingest` each job (one pool task for a batch of pages); a job's exception takes its
    place in the list, so the others still count (crawler.pool.Batcher)."""
    outcomes: list[IngestResult | Exception] = []
    for job in jobs:
        try:
            outcomes.append(ingest(job))
        except Exception as exc:  # noqa: BLE001 - reported for its page, by the pipeline
            outcomes.append(_portable(exc))
    return outcomes


def _portable(exc: Exception) -> Exception:
    """Return `exc`, or a RuntimeError saying the same if it cannot travel between processes."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any pickling failure
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _save(connection, index: SimhashIndex, job: IngestJob, page: ProcessedPage) -> store.SaveResult:
    """Store the page: a live page's re-fetch as its new updates, anything else as an article
    (registered as a live page when it is a live blog), in the caller's transaction."""
    now = utcnow()
    if job.live_page_id is not None:
        return livepages.save_update(connection, index, live_page_id=job.live_page_id, page=page, now=now)
    result = store.save_article(
        connection,
        index,
        source_id=job.source_id,
        page=page,
        url=job.url,
        variants=job.variants,
        raw_html=job.html if job.keep_html else None,
        first_crawl=job.first_crawl,
        backfill=job.backfill,
        poll_started_at=job.poll_started_at,
    )
    if page.article.live and result.outcome != "duplicate":
        livepages.register(
            connection,
            article_id=result.article_id,
            source_id=job.source_id,
            url=job.url,
            text=page.article.text or "",
            now=now,
        )
    return result


def ingest(job: IngestJob) -> IngestResult:
    """Extract and store one page; exceptions travel back to the pipeline as errors of the page."""
    started = time.process_time()
    page = process_page(job.html, job.url, job.feed_entry)
    engine, index = _engine(job.database_url)
    with engine.connect() as connection:  # a Core connection: the store needs no ORM session
        try:
            store.serialise_writers(connection)
            result = _save(connection, index, job, page)
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
    return IngestResult(
        outcome=result.outcome,
        article_id=result.article_id,
        story_id=result.story_id,
        canonical_url=page.canonical_url,
        title=result.title,
        extract_ms=page.extract_ms,
        cpu_ms=(time.process_time() - started) * 1000,
        worker_pid=os.getpid(),
        worker_cpu_s=time.process_time(),
    )
