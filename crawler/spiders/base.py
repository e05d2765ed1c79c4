"""What every source spider does: one poll of one configured source.

1. Request the discovery document (feed, sitemap, listing) conditionally (ETag /
   Last-Modified): a 304 ends the poll at the cost of one request.
2. Turn its entries into article URLs, newest first, at most the source's `max_articles`;
   normalise each (crawler.urls) and drop those already stored — any stored variant counts,
   looked up in one query — so a known article is never fetched again. New variants of known
   articles (another feed's tracking parameters) are remembered.
3. Fetch the rest, newest first, and hand each HTML page to the store pipeline.
4. Whatever the discovery document said (even a 304), fetch the source's live pages that are
   due (crawler.livepages): the one kind of stored URL that is fetched again, while it grows.

Failures are reported to the poll's recorder (crawler.polls), never raised: a poll always
completes.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin

import scrapy
from scrapy.http import Request, TextResponse

from crawler import livepages, polls, store
from crawler.context import CrawlContext
from crawler.failures import describe_failure
from crawler.items import ArticlePage, FeedEntry
from crawler.urls import try_normalise
from newswatch.core.loading import load_config
from newswatch.core.models import utcnow

log = logging.getLogger(__name__)

DISCOVERY_PRIORITY = 10_000


class SourceSpider(scrapy.Spider):
    """Base of the `feed`, `sitemap` and `listing` spiders (`-a source=NAME`)."""

    kind = ""

    def __init__(self, source: str | None = None, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not source:
            raise ValueError(f"which source? use: scrapy crawl {self.name} -a source=NAME")
        self.source_name = source

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        context: CrawlContext | None = getattr(crawler, "newswatch_context", None)
        config = context.config if context is not None else load_config(None)
        try:
            spider.source = config.source(spider.source_name)
        except KeyError:
            raise ValueError(
                f"no source named {spider.source_name!r} in {config.directory}/sources.yaml"
            ) from None
        if spider.source.kind != cls.kind:
            raise ValueError(
                f"source {spider.source_name!r} is a {spider.source.kind} source: "
                f"use scrapy crawl {spider.source.kind} -a source={spider.source_name}"
            )
        spider.owns_context = context is None
        if context is None:  # plain `scrapy crawl`: resolve config and database like the CLI
            context = CrawlContext.from_environment(config)
            crawler.newswatch_context = context
        spider.context = context
        spider.allow_private = spider.source.allow_private
        spider.scheduled = {}
        spider.known = 0
        return spider

    def report(self, signal: object, **data) -> None:
        """Tell the poll's recorder what happened (crawler.polls)."""
        self.crawler.signals.send_catch_log(signal, **data)

    # ------------------------------------------------------------------ discovery

    def discovery_request(self, url: str, callback, **meta) -> Request:
        """Return a conditional request for a feed, sitemap or listing page."""
        return Request(
            url,
            callback=callback,
            errback=self.discovery_failed,
            dont_filter=True,
            priority=DISCOVERY_PRIORITY,
            meta={"conditional": True, "handle_httpstatus_list": [304], **meta},
        )

    def seen_discovery(self, response) -> bool:
        """Count a discovery response; return False when there is nothing to parse (304)."""
        self.report(polls.page_fetched, not_modified=response.status == 304)
        self.context.notify("fetched", source=self.source_name, url=response.url, status=response.status)
        return response.status != 304

    def discovery_failed(self, failure, fails_poll: bool = True) -> None:
        """Count a discovery request that failed (a child sitemap's failure does not fail the poll)."""
        message, transient = describe_failure(failure, self.settings.getfloat("DOWNLOAD_TIMEOUT"))
        self._count_failed_response(failure)
        self.report(polls.poll_error, message=message, discovery=fails_poll, transient=transient)
        log.warning("discovery failed: %s", message, extra={"source": self.source_name})
        self.context.notify("error", source=self.source_name, message=message)

    def discovery_problem(self, message: str, fails_poll: bool = True, transient: bool = False) -> None:
        """Count a discovery document that arrived but cannot be used (hostile, not a feed;
        `transient`: it could not be parsed this time, e.g. a worker crashed)."""
        self.report(polls.poll_error, message=message, discovery=fails_poll, transient=transient)
        log.warning("discovery failed: %s", message, extra={"source": self.source_name})
        self.context.notify("error", source=self.source_name, message=message)

    def warn(self, message: str) -> None:
        self.report(polls.poll_warning, message=message)
        log.warning(message, extra={"source": self.source_name})
        self.context.notify("warning", source=self.source_name, message=message)

    # ------------------------------------------------------------------ articles

    async def article_requests(self, entries: list[FeedEntry], base_url: str) -> list[Request]:
        """Return requests for the entries' articles not yet stored, newest first.

        They are fetched in this order: all at one priority, and the scheduler's queues are
        FIFO (crawler.settings). One priority per position would cost Scrapy's priority queue
        a scan of every level on each request."""
        candidates: list[tuple[str, FeedEntry]] = []
        for entry in entries:
            if len(candidates) >= self.source.max_articles:
                break
            normal = try_normalise(entry.url, base=base_url)
            if normal is None:
                self.warn(f"skipped a link that is not an http(s) URL: {entry.url[:200]!r}")
                continue
            raw = entry.url.strip()
            if not raw.lower().startswith(("http://", "https://")):
                raw = urljoin(base_url, raw)
            if normal in self.scheduled:
                if raw not in self.scheduled[normal]:
                    self.scheduled[normal].append(raw)
                continue
            self.scheduled[normal] = list(dict.fromkeys([raw, normal]))
            candidates.append((normal, entry))
        lookup = [url for normal, _ in candidates for url in self.scheduled[normal]]
        known = await self.context.db(store.known_urls, lookup) if lookup else {}
        known_now = 0
        requests: list[Request] = []
        remember: dict[int, list[str]] = {}
        for normal, entry in candidates:
            variants = self.scheduled[normal]
            article_id = next((known[u] for u in variants if u in known), None)
            if article_id is not None:
                known_now += 1
                missing = [u for u in variants if u not in known]
                if missing:
                    remember.setdefault(article_id, []).extend(missing)
                continue
            requests.append(
                Request(
                    normal,
                    callback=self.parse_article,
                    errback=self.article_failed,
                    meta={"feed_entry": entry, "variants": variants, "normal": normal},
                )
            )
        if remember:
            await self.context.db(store.remember_known, remember)
        self.known += known_now
        self.report(polls.urls_known, count=known_now)
        self.report(polls.articles_requested, count=len(requests))
        self.context.notify("discovered", source=self.source_name, articles=len(requests), known=self.known)
        return requests

    def parse_article(self, response) -> list[ArticlePage]:
        # A list, not a generator: Scrapy inspects the source of generator callbacks on every
        # response (for `return` with a value), which costs milliseconds per page.
        self.report(polls.page_fetched)
        self.context.notify("fetched", source=self.source_name, url=response.url, status=response.status)
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if not isinstance(response, TextResponse) or (content_type and "html" not in content_type):
            message = f"not an HTML page ({content_type or 'binary'}): {response.url}"
            self.report(polls.poll_error, message=message)
            self.context.notify("error", source=self.source_name, message=message)
            return []
        # Requests go out under the normalised URL: unless a redirect (or Scrapy's escaping)
        # changed it, the response's URL is normal already.
        normal = response.url if response.url == response.meta.get("normal") else try_normalise(response.url)
        variants = list(
            dict.fromkeys(
                [
                    *response.meta.get("variants", []),
                    *response.meta.get("redirect_urls", []),
                    response.url,
                    normal or response.url,
                ]
            )
        )
        return [
            ArticlePage(
                source=self.source_name,
                url=response.url,
                html=response.text,
                variants=variants,
                feed_entry=response.meta.get("feed_entry"),
                live_page_id=response.meta.get("live_page_id"),
            )
        ]

    async def live_requests(self) -> list[Request]:
        """Return re-fetches of the source's live pages that are due in this poll."""
        due = await self.context.db(livepages.due, self.source_name, utcnow())
        return [
            Request(
                page.url,
                callback=self.parse_article,
                errback=self.live_failed,
                meta={"live_page_id": page.id, "variants": [page.url], "normal": page.url},
            )
            for page in due
        ]

    async def live_failed(self, failure) -> None:
        """A live page's re-fetch failed: a warning, not an error of the poll (the source is
        fine); a page that is gone (404, 410) is not fetched again."""
        message, _ = describe_failure(failure, self.settings.getfloat("DOWNLOAD_TIMEOUT"))
        self._count_failed_response(failure)
        self.warn(f"live page: {message}")
        response = getattr(failure.value, "response", None)
        if response is not None and response.status in (404, 410):
            await self.context.db(livepages.retire, failure.request.meta["live_page_id"])

    def article_failed(self, failure) -> None:
        message, transient = describe_failure(failure, self.settings.getfloat("DOWNLOAD_TIMEOUT"))
        self._count_failed_response(failure)
        self.report(polls.poll_error, message=message, transient=transient)
        log.info("article failed: %s", message, extra={"source": self.source_name})
        self.context.notify("error", source=self.source_name, message=message)

    def _count_failed_response(self, failure) -> None:
        if getattr(failure.value, "response", None) is not None:
            self.report(polls.page_fetched)
