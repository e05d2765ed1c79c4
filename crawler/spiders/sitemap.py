"""`sitemap`: one poll of a sitemap, a sitemap index or a Google News sitemap, newest first.

From an index, the child sitemaps with the newest `lastmod` are read (at most
`MAX_CHILD_SITEMAPS` per poll, each fetched conditionally); once every child has answered
(or failed), their article URLs are merged newest first and the source's `max_articles`
limit applies to the merged list.
"""

from __future__ import annotations

from crawler.items import FeedEntry, HostileDocument
from crawler.pool import PoolFailed
from crawler.sitemaps import MAX_SITEMAP_BYTES, parse_sitemap
from crawler.spiders.base import SourceSpider

MAX_CHILD_SITEMAPS = 5
MAX_INDEX_DEPTH = 2


def _newest_first(entries: list[FeedEntry]) -> list[FeedEntry]:
    dated = sorted(
        (e for e in entries if e.published or e.updated), key=lambda e: e.published or e.updated, reverse=True
    )
    return dated + [e for e in entries if not (e.published or e.updated)]


class SitemapSpider(SourceSpider):
    name = "sitemap"
    kind = "sitemap"

    async def start(self):
        self.pending_sitemaps = 1
        self.collected: list[FeedEntry] = []
        yield self._sitemap_request(self.source.sitemap, depth=0)
        for request in await self.live_requests():
            yield request

    def _sitemap_request(self, url: str, depth: int):
        request = self.discovery_request(
            url, self.parse_sitemap, sitemap_depth=depth, download_maxsize=MAX_SITEMAP_BYTES
        )
        if depth:
            request = request.replace(errback=self.child_failed)
        return request

    async def parse_sitemap(self, response):
        depth = response.meta.get("sitemap_depth", 0)
        children: list[str] = []
        if self.seen_discovery(response):
            children = await self._read(response, depth)
        for url in children:
            self.pending_sitemaps += 1
            yield self._sitemap_request(url, depth + 1)
        for request in await self._sitemap_done():
            yield request

    async def child_failed(self, failure):
        self.discovery_failed(failure, fails_poll=False)
        for request in await self._sitemap_done():
            yield request

    async def _read(self, response, depth: int) -> list[str]:
        """Collect the sitemap's article entries; return the child sitemaps to fetch."""
        try:  # in the worker pool: a sitemap can hold 50,000 URLs
            sitemap = await self.context.pool.run(parse_sitemap, response.body, response.url)
        except (HostileDocument, ValueError) as exc:
            # A broken child sitemap is an error of this poll; a broken top-level one fails it.
            self.discovery_problem(f"{exc}: {response.url}", fails_poll=depth == 0)
            return []
        except PoolFailed as exc:
            message = f"parsing the sitemap failed ({exc}): {response.url}"
            self.discovery_problem(message, fails_poll=depth == 0, transient=True)
            return []
        for warning in sitemap.warnings:
            self.warn(f"{warning}: {response.url}")
        if sitemap.kind == "index":
            if depth >= MAX_INDEX_DEPTH:
                self.warn(f"sitemap index nested too deep, not followed: {response.url}")
                return []
            return [response.urljoin(child.loc) for child in sitemap.entries[:MAX_CHILD_SITEMAPS]]
        self.collected.extend(entry.feed_entry() for entry in sitemap.entries)
        return []

    async def _sitemap_done(self):
        self.pending_sitemaps -= 1
        if self.pending_sitemaps > 0 or not self.collected:
            return []
        entries, self.collected = _newest_first(self.collected), []
        return await self.article_requests(entries, self.source.sitemap)
