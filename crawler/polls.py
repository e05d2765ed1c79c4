"""The one owner of a poll's record: a Scrapy extension (`PollRecorder`) fed by signals.

Everything a poll does is counted on one `PollRecord` (crawler.records says what goes where),
and only the recorder changes it. The spider, the store pipeline and the conditional-GET
middleware report what happened by sending the signals below through `crawler.signals`, as
Scrapy's own components do. The recorder opens the poll's `crawl_runs` row when the spider
opens (and tells the pipeline the poll's ids with `poll_started`), and on close writes the
counters, the source's health fields and the kept validators, then sends `poll_finished` with
the summary that `CrawlManager.poll()` returns.
"""

from __future__ import annotations

import logging

from scrapy import signals

from crawler import store
from crawler.records import PollRecord
from newswatch.core.models import utcnow

log = logging.getLogger(__name__)

# What the other components report (keyword arguments in brackets).
page_fetched = object()  # a response the spider saw (not_modified: bool)
poll_error = object()  # (message, discovery=False, transient=False, refused=False)
poll_warning = object()  # (message)
urls_known = object()  # article URLs skipped because they are stored (count)
articles_requested = object()  # article requests made (count)
article_stored = object()  # an article page went through the store (outcome, extract_ms)
validators_seen = object()  # a discovery page's ETag / Last-Modified (url, etag, last_modified)
# What the recorder tells.
poll_started = object()  # (start: store.PollStart)
poll_finished = object()  # (summary: CrawlSummary)


class PollRecorder:
    """Scrapy extension (crawler.settings EXTENSIONS): records one poll per crawl."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.record: PollRecord | None = None
        connect = crawler.signals.connect
        connect(self.spider_opened, signal=signals.spider_opened)
        connect(self.spider_closed, signal=signals.spider_closed)
        connect(self._callback_failed, signal=signals.spider_error)
        connect(self._fetched, signal=page_fetched)
        connect(self._error, signal=poll_error)
        connect(self._warning, signal=poll_warning)
        connect(self._known, signal=urls_known)
        connect(self._requested, signal=articles_requested)
        connect(self._stored, signal=article_stored)
        connect(self._validators, signal=validators_seen)

    @classmethod
    def from_crawler(cls, crawler) -> PollRecorder:
        return cls(crawler)

    async def spider_opened(self, spider) -> None:
        record = PollRecord(source=spider.source_name, started_at=utcnow())
        try:
            start = await spider.context.db(store.begin_poll, spider.source, record.started_at)
        except Exception as exc:  # noqa: BLE001 - the database is down, locked or full
            # Nothing could be stored either: the poll stops before its first request, fails,
            # and is repeated on schedule once the database is back.
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            message = f"cannot record the poll in the database ({reason})"
            log.warning("poll skipped: %s", message, extra={"source": record.source})
            record.error(message, discovery=True, transient=True)
            self.record = record
            spider.poll_open = False
            return
        record.source_id, record.run_id, record.first_crawl = start.source_id, start.run_id, start.first_crawl
        self.record = record
        self.crawler.signals.send_catch_log(poll_started, start=start)
        spider.context.notify("poll-started", source=record.source, first_crawl=record.first_crawl)

    async def spider_closed(self, spider, reason=None) -> None:
        record = self.record
        try:
            if record is None:
                return
            record.finished_at = utcnow()
            try:
                if record.run_id is not None:
                    await spider.context.db(store.finish_poll, record, record.finished_at)
            except Exception as exc:  # noqa: BLE001 - the summary still reaches the caller
                reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                log.warning("recording the poll failed: %s", reason, extra={"source": record.source})
                record.error(
                    f"cannot record the poll in the database ({reason})", discovery=True, transient=True
                )
            summary = record.summary(record.finished_at)
            self.crawler.signals.send_catch_log(poll_finished, summary=summary)
            spider.context.notify("poll-finished", source=record.source, summary=summary)
        finally:
            if getattr(spider, "owns_context", False):  # plain `scrapy crawl`: the spider made it
                await spider.context.close()

    # ------------------------------------------------------------------ reports

    def _callback_failed(self, failure, response, spider) -> None:
        """A spider callback raised (Scrapy logs the traceback): whatever the page held was
        not stored, so the poll failed and keeps no validators (a later 304 would hide it)."""
        if self.record is not None:
            reason = f"{type(failure.value).__name__}: {failure.value}"
            self.record.error(f"processing failed ({reason}): {response.url}", discovery=True, transient=True)

    def _fetched(self, not_modified: bool = False) -> None:
        if self.record is not None:
            self.record.fetched += 1
            self.record.not_modified += not_modified

    def _error(
        self, message: str, discovery: bool = False, transient: bool = False, refused: bool = False
    ) -> None:
        if self.record is not None:
            self.record.error(message, discovery=discovery, transient=transient, refused=refused)

    def _warning(self, message: str) -> None:
        if self.record is not None:
            self.record.warn(message)

    def _known(self, count: int) -> None:
        if self.record is not None:
            self.record.known += count

    def _requested(self, count: int) -> None:
        if self.record is not None:
            self.record.article_requests += count

    def _stored(self, outcome: str, extract_ms: float) -> None:
        record = self.record
        if record is None:
            return
        record.extract_ms.append(extract_ms)
        if outcome == "new":
            record.new += 1
        else:
            record.duplicates += 1
        if outcome in ("new", "joined"):
            record.created += 1

    def _validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        if self.record is not None:
            self.record.validators[url] = (etag, last_modified)
