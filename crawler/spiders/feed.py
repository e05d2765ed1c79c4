"""`feed`: one poll of an RSS (0.9x, 1.0, 2.0) or Atom source."""

from __future__ import annotations

from crawler.feeds import parse_feed
from crawler.items import HostileDocument
from crawler.pool import PoolFailed
from crawler.spiders.base import SourceSpider


class FeedSpider(SourceSpider):
    name = "feed"
    kind = "feed"

    async def start(self):
        yield self.discovery_request(self.source.feed, self.parse_feed)
        for request in await self.live_requests():
            yield request

    async def parse_feed(self, response):
        if not self.seen_discovery(response):
            return
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        try:  # in the worker pool: a big feed is CPU work the event loop should not do
            feed = await self.context.pool.run(parse_feed, response.body, response.url, content_type)
        except HostileDocument as exc:
            self.discovery_problem(f"{exc}: {response.url}")
            return
        except PoolFailed as exc:
            self.discovery_problem(f"parsing the feed failed ({exc}): {response.url}", transient=True)
            return
        for warning in feed.warnings:
            self.warn(f"{warning}: {response.url}")
        if not feed.entries and any(w.startswith("not a feed") for w in feed.warnings):
            self.discovery_problem(f"not an RSS or Atom feed: {response.url}")
            return
        for request in await self.article_requests(feed.entries, response.url):
            yield request
