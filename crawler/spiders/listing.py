"""`listing`: one poll of an HTML page of article links (the source's `links` CSS selector).

The selector may select the links themselves (`article h2 a`) or elements that contain them
(`article.teaser`): for a non-link element, its first `a[href]` is taken. Links keep the
page's order (listings put the newest first); the link text becomes the fallback title.
"""

from __future__ import annotations

from crawler.items import FeedEntry
from crawler.spiders.base import SourceSpider


def listing_entries(response, selector: str) -> list[FeedEntry]:
    """Return the article links `selector` picks on a listing page, in page order."""
    entries: list[FeedEntry] = []
    for link in response.css(selector):
        if getattr(link.root, "tag", None) != "a":
            inner = link.css("a[href]")
            if not inner:
                continue
            link = inner[0]
        href = link.attrib.get("href")
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        title = " ".join(" ".join(link.css("::text").getall()).split()) or None
        entries.append(FeedEntry(url=response.urljoin(href), title=title))
    return entries


class ListingSpider(SourceSpider):
    name = "listing"
    kind = "listing"

    async def start(self):
        yield self.discovery_request(self.source.listing, self.parse_listing)
        for request in await self.live_requests():
            yield request

    async def parse_listing(self, response):
        if not self.seen_discovery(response):
            return
        if not hasattr(response, "css"):
            self.discovery_problem(f"listing page is not HTML: {response.url}")
            return
        entries = listing_entries(response, self.source.links)
        if not entries:
            self.warn(f"the selector {self.source.links!r} found no article links: {response.url}")
        for request in await self.article_requests(entries, response.url):
            yield request
