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
from functools import cached_property
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import scrapy
from scrapy.http import Request, TextResponse

from crawler import livepages, polls, store
from crawler.context import CrawlContext
from crawler.failures import describe_failure, is_refusal
from crawler.items import ArticlePage, FeedEntry
from crawler.urls import try_normalise
from newswatch.core.config import Config, Source
from newswatch.core.loading import load_config
from newswatch.core.models import utcnow

log = logging.getLogger(__name__)

DISCOVERY_PRIORITY = 10_000


def without_userinfo(url: str) -> str:
    """Return `url` without `user:password@` (Scrapy refuses credentials in a URL)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def source_to_crawl(config: Config, kind: str, name: str | None) -> Source:
    """Return the configured source `name` for the spider of `kind`; ValueError saying how
    to call it right (also used by `scrapy crawl`, which turns it into one usage line)."""
    if not name:
        raise ValueError(f"which source? use: scrapy crawl {kind} -a source=NAME")
    try:
        source = config.source(name)
    except KeyError:
        raise ValueError(f"no source named {name!r} in {config.directory}/sources.yaml") from None
    if source.kind != kind:
        raise ValueError(
            f"source {name!r} is a {source.kind} source: use scrapy crawl {source.kind} -a source={name}"
        )
    return source


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
        spider.source = source_to_crawl(config, cls.kind, spider.source_name)
        spider.poll_open = True  # the poll recorder sets False when the poll cannot be recorded
        spider.owns_context = context is None
        if context is None:  # plain `scrapy crawl`: resolve config and database like the CLI
            context = CrawlContext.from_environment(config)
            crawler.newswatch_context = context
        spider.context = context
        spider.allow_private = spider.source.allow_private
        spider.scheduled = {}
        spider.known = 0
        return spider

    async def start(self):
        if not self.poll_open:
            return
        for request in self.discovery_requests():
            yield request
        for request in await self.live_requests():  # live blogs of this source still growing
            yield request

    def discovery_requests(self) -> list[Request]:
        """The poll's first requests: the source's feed, sitemap or listing page."""
        raise NotImplementedError

    def report(self, signal: object, **data) -> None:
        """Tell the poll's recorder what happened (crawler.polls)."""
        self.crawler.signals.send_catch_log(signal, **data)

    # ------------------------------------------------------------------ discovery

    def discovery_request(self, url: str, callback, **meta) -> Request:
        """Return a conditional request for a feed, sitemap or listing page."""
        return Request(
            without_userinfo(url),
            callback=callback,
            errback=self.discovery_failed,
            dont_filter=True,
            priority=DISCOVERY_PRIORITY,
            meta={"conditional": True, "handle_httpstatus_list": [304], **self.auth_meta, **meta},
        )

    @cached_property
    def auth_meta(self) -> dict[str, str]:
        """HTTP Basic credentials given as `user:password@` in the source's URL, as Scrapy's
        HttpAuthMiddleware takes them: sent to the source's own host only (never after a
        redirect to another one); the URL that is fetched and shown has no userinfo."""
        parts = urlsplit(self.source.url)
        if not parts.username and not parts.password:
            return {}
        return {
            "http_user": unquote(parts.username or ""),
            "http_pass": unquote(parts.password or ""),
            # Scrapy compares it with the request's host and port (its netloc).
            "http_auth_domain": parts.netloc.rsplit("@", 1)[1].lower(),
        }

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
                    meta={"feed_entry": entry, "variants": variants, "normal": normal, **self.auth_meta},
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
            self.report(polls.poll_error, message=message, refused=True)
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
        self.report(polls.poll_error, message=message, transient=transient, refused=is_refusal(failure))
        log.info("article failed: %s", message, extra={"source": self.source_name})
        self.context.notify("error", source=self.source_name, message=message)

    def _count_failed_response(self, failure) -> None:
        if getattr(failure.value, "response", None) is not None:
            self.report(polls.page_fetched)
