"""The store pipeline: each fetched article page → extracted and stored once, in the worker
pool (crawler.ingest).

What each page came to is reported to the poll's recorder (crawler.polls) by signal; the
poll's ids come from it the same way. An article that cannot be extracted or stored is an
error of the poll, never an exception out of the crawl.
"""

from __future__ import annotations

import logging

from crawler import polls
from crawler.ingest import IngestJob
from crawler.items import ArticlePage
from crawler.pool import PoolFailed
from crawler.store import PollStart

log = logging.getLogger(__name__)


class StorePipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.start: PollStart | None = None
        crawler.signals.connect(self._poll_started, signal=polls.poll_started)

    @classmethod
    def from_crawler(cls, crawler) -> StorePipeline:
        return cls(crawler)

    def _poll_started(self, start: PollStart) -> None:
        self.start = start

    async def process_item(self, item, spider=None):
        if not isinstance(item, ArticlePage):
            return item
        spider = self.crawler.spider
        context, start = spider.context, self.start
        assert start is not None, "the poll recorder opens the poll before any page is fetched"
        job = IngestJob(
            database_url=context.database_url,
            source_id=start.source_id,
            url=item.url,
            html=item.html,
            variants=item.variants,
            feed_entry=item.feed_entry,
            first_crawl=start.first_crawl,
            backfill=spider.source.backfill_window,
            poll_started_at=start.started_at,
            live_page_id=item.live_page_id,
        )
        try:
            result = await context.ingest(job)
        except Exception as exc:  # noqa: BLE001 - one page's failure must not end the poll
            log.warning(
                "processing an article failed: %s: %s",
                type(exc).__name__,
                exc,
                extra={"source": item.source, "url": item.url},
            )
            # Whatever failed (workers, database, disk), the page was not stored: the feed's
            # validators must not be saved, or the next poll's 304 would hide it for good.
            return self._failed(item.source, f"{_describe(exc)}: {item.url}", transient=True)
        self.crawler.signals.send_catch_log(
            polls.article_stored, outcome=result.outcome, extract_ms=result.extract_ms
        )
        context.notify(
            "article",
            source=item.source,
            url=result.canonical_url,
            outcome=result.outcome,
            title=result.title,
            article_id=result.article_id,
            extract_ms=result.extract_ms,
            cpu_ms=result.cpu_ms,
            worker=(result.worker_pid, result.worker_cpu_s),
        )
        return {"url": result.canonical_url, "outcome": result.outcome, "article_id": result.article_id}

    def _failed(self, source: str, message: str, *, transient: bool) -> dict:
        self.crawler.signals.send_catch_log(polls.poll_error, message=message, transient=transient)
        self.crawler.spider.context.notify("error", source=source, message=message)
        return {"url": None, "outcome": "error", "message": message}


def _describe(exc: Exception) -> str:
    if isinstance(exc, PoolFailed):
        return f"extraction failed: {exc}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"extraction or storage failed ({type(exc).__name__}: {text[:300]})"
