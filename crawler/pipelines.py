"""The store pipeline: each fetched article page → extracted and stored once, in the worker
pool (crawler.ingest).

It also opens and closes the poll's record: a `crawl_runs` row when the spider opens, the
counters, the source's health fields and the kept validators when it closes (see
crawler.records for what is counted where). An article that cannot be extracted or stored is
an error of the poll, never an exception out of the crawl.
"""

from __future__ import annotations

import logging

from crawler import store
from crawler.ingest import IngestJob
from crawler.items import ArticlePage
from crawler.pool import PoolFailed
from newswatch.core.models import utcnow

log = logging.getLogger(__name__)


class StorePipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> StorePipeline:
        return cls(crawler)

    async def open_spider(self, spider=None) -> None:
        spider = self.crawler.spider
        poll = spider.poll
        start = await spider.context.db(store.begin_poll, spider.source, poll.started_at)
        poll.source_id, poll.run_id, poll.first_crawl = start.source_id, start.run_id, start.first_crawl
        spider.context.notify("poll-started", source=poll.source, first_crawl=poll.first_crawl)

    async def process_item(self, item, spider=None):
        if not isinstance(item, ArticlePage):
            return item
        spider = self.crawler.spider
        context, poll = spider.context, spider.poll
        job = IngestJob(
            database_url=context.database_url,
            source_id=poll.source_id,
            url=item.url,
            html=item.html,
            variants=item.variants,
            feed_entry=item.feed_entry,
            first_crawl=poll.first_crawl,
            backfill=spider.source.backfill_window,
            poll_started_at=poll.started_at,
        )
        try:
            result = await context.ingest(job)
        except Exception as exc:  # noqa: BLE001 - one page's failure must not end the poll
            log.warning(
                "processing an article failed: %s: %s",
                type(exc).__name__,
                exc,
                extra={"source": poll.source, "url": item.url},
            )
            transient = "OperationalError" in type(exc).__name__  # e.g. database locked
            return self._failed(spider, f"{_describe(exc)}: {item.url}", transient=transient)
        poll.extract_ms.append(result.extract_ms)
        if result.outcome == "new":
            poll.new += 1
            poll.created += 1
        elif result.outcome == "joined":
            poll.duplicates += 1
            poll.created += 1
        else:
            poll.duplicates += 1
        context.notify(
            "article",
            source=poll.source,
            url=result.canonical_url,
            outcome=result.outcome,
            title=result.title,
            article_id=result.article_id,
            extract_ms=result.extract_ms,
            cpu_ms=result.cpu_ms,
            worker=(result.worker_pid, result.worker_cpu_s),
        )
        return {"url": result.canonical_url, "outcome": result.outcome, "article_id": result.article_id}

    def _failed(self, spider, message: str, *, transient: bool) -> dict:
        spider.poll.error(message, transient=transient)
        spider.context.notify("error", source=spider.poll.source, message=message)
        return {"url": None, "outcome": "error", "message": message}

    async def close_spider(self, spider=None) -> None:
        spider = self.crawler.spider
        poll = spider.poll
        poll.finished_at = utcnow()
        try:
            await spider.context.db(store.finish_poll, poll, poll.finished_at)
        except Exception:  # noqa: BLE001 - the summary still reaches the caller
            log.exception("recording the poll failed", extra={"source": poll.source})
        spider.context.notify("poll-finished", source=poll.source, summary=poll.summary(poll.finished_at))


def _describe(exc: Exception) -> str:
    if isinstance(exc, PoolFailed):
        return f"extraction failed: {exc}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"extraction or storage failed ({type(exc).__name__}: {text[:300]})"
