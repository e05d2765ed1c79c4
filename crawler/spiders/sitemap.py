"""`sitemap`: one poll of a sitemap, a sitemap index or a Google News sitemap, newest first.

From an index, the child sitemaps with the newest `lastmod` are read first (at most
`MAX_CHILD_SITEMAPS` per poll, each fetched conditionally); article URLs from all of them are
merged newest first before the source's `max_articles` limit applies.
"""

from __future__ import annotations

from crawler.feeds import HostileDocument
from crawler.sitemaps import MAX_SITEMAP_BYTES, parse_sitemap
from crawler.spiders.base import SourceSpider

MAX_CHILD_SITEMAPS = 5
MAX_INDEX_DEPTH = 2


class SitemapSpider(SourceSpider):
    name = "sitemap"
    kind = "sitemap"

    async def start(self):
        yield self._sitemap_request(self.source.sitemap, depth=0)

    def _sitemap_request(self, url: str, depth: int):
        return self.discovery_request(
            url, self.parse_sitemap, sitemap_depth=depth, download_maxsize=MAX_SITEMAP_BYTES
        )

    async def parse_sitemap(self, response):
        if not self.seen_discovery(response):
            return
        depth = response.meta.get("sitemap_depth", 0)
        try:
            sitemap = parse_sitemap(response.body, response.url)
        except HostileDocument as exc:
            self._problem(depth, f"{exc}: {response.url}")
            return
        except ValueError as exc:
            self._problem(depth, f"{exc}: {response.url}")
            return
        for warning in sitemap.warnings:
            self.warn(f"{warning}: {response.url}")
        if sitemap.kind == "index":
            if depth >= MAX_INDEX_DEPTH:
                self.warn(f"sitemap index nested too deep, not followed: {response.url}")
                return
            for child in sitemap.entries[:MAX_CHILD_SITEMAPS]:
                yield self._sitemap_request(response.urljoin(child.loc), depth + 1)
            return
        entries = [entry.feed_entry() for entry in sitemap.entries]
        for request in await self.article_requests(entries, response.url):
            yield request

    def _problem(self, depth: int, message: str) -> None:
        # A broken child sitemap is an error of this poll; a broken top-level one fails it.
        if depth == 0:
            self.discovery_problem(message)
        else:
            self.poll.error(message)
            self.context.notify("error", source=self.source_name, message=message)
