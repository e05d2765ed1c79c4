"""What every poll shares: the config, the database (the application's), the worker pool.

One `CrawlContext` lives as long as its `CrawlManager` (the service, `newswatch crawl`) or,
under plain `scrapy crawl`, as long as the spider. The crawling process's own database work
(poll records, known-URL lookups, validators: a few small statements per poll) runs on one
dedicated thread (`db()`), so the event loop never waits on SQL; parsing, extraction and
article storage run in the worker pool (`pool.run()`; article pages in batches: `ingest()`,
crawler.ingest).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from crawler.ingest import IngestJob, IngestResult, ingest_many
from crawler.items import FeedEntry
from crawler.pool import ExtractionPool
from crawler.work import ProcessedPage
from newswatch.core.config import Config, resolve_database_url
from newswatch.core.db import Database, session_scope
from newswatch.core.loading import load_config

log = logging.getLogger(__name__)
T = TypeVar("T")

Progress = Callable[[str, dict], None]


class CrawlContext:
    """Shared resources of the crawler; create once, `await close()` at the end."""

    def __init__(
        self,
        config: Config,
        database: Database,
        *,
        progress: Progress | None = None,
        workers: int | None = None,
        owns_database: bool = False,
    ) -> None:
        self.config = config
        self.database = database
        self.database_url = database.url  # the workers open their own engine from it
        self.sessions = database.sessions
        self.progress = progress
        self._owns_database = owns_database
        self.pool = ExtractionPool(workers)
        self.pool.warm()
        self._ingest = self.pool.batcher(ingest_many)
        self._db = ThreadPoolExecutor(1, thread_name_prefix="newswatch-db")
        self._closed = False

    @classmethod
    def from_environment(cls, config: Config | None = None) -> CrawlContext:
        """Return a context for plain `scrapy crawl`, which has no application object: the
        config and the database resolved as the CLI does ($NEWSWATCH_CONFIG / ./config, the
        database from $NEWSWATCH_DATABASE_URL / settings.yaml / var/), schema migrated."""
        config = config or load_config(None)
        database = Database(resolve_database_url(None, config.settings))
        return cls(config, database, owns_database=True)

    async def db(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `function(session, *args, **kwargs)` in a transaction on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._db, functools.partial(self._in_session, function, args, kwargs)
        )

    def _in_session(self, function: Callable[..., T], args: tuple, kwargs: dict) -> T:
        with session_scope(self.sessions) as session:
            return function(session, *args, **kwargs)

    async def ingest(self, job: IngestJob) -> IngestResult:
        """Extract and store a fetched page in the worker pool (batched with other pages
        while the workers are busy)."""
        return await self._ingest.submit(job)

    async def extract(self, html: str, url: str, feed_entry: FeedEntry | None) -> ProcessedPage:
        """Extract and fingerprint a page in the process pool."""
        return await self.pool.process(html, url, feed_entry)

    def notify(self, event: str, **data: Any) -> None:
        """Tell the progress callback (if any) what happened; its failures are only logged."""
        if self.progress is None:
            return
        try:
            self.progress(event, data)
        except Exception:  # a display bug must not stop a crawl
            log.exception("progress callback failed", extra={"event": event})

    async def close(self) -> None:
        """Stop the extraction workers and the database thread, release connections."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.pool.close)
        self._db.shutdown(wait=True)
        if self._owns_database:
            self.database.dispose()
