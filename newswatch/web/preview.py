"""Source preview: what a feed, sitemap or listing would yield — the article URLs discovered
and one article extracted — before the source is saved.

It fetches with the crawler's rules, not through a Scrapy crawl: only http(s), every hop
(redirects included) resolved and judged by `crawler.addresses` (loopback and private
addresses only with `allow_private`, which only admins may set), a size cap and a timeout,
an honest User-Agent. Discovery and extraction are the crawler's own functions
(`parse_feed`, `parse_sitemap`, `listing_entries`, `extract_article`).
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from scrapy.http import HtmlResponse

from crawler.addresses import address_problem, ip_literal
from crawler.extract import extract_article
from crawler.feeds import parse_feed
from crawler.items import FeedEntry
from crawler.sitemaps import parse_sitemap
from crawler.spiders.listing import listing_entries
from newswatch.core.config import CrawlSettings, parse_size
from newswatch.core.schedules import parse_duration

MAX_REDIRECTS = 5
SHOWN = 20
INDEX_ENTRY = "(a sitemap of this index)"


class PreviewError(Exception):
    """Why the preview could not be made (for the client, no secrets)."""


def _check_host(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PreviewError(f"{parts.scheme or 'that'}:// URLs are not fetched: only http(s)")
    host = parts.hostname
    literal = ip_literal(host)
    try:
        addresses = (
            [str(literal)]
            if literal
            else sorted(
                {i[4][0] for i in socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)}
            )
        )
    except OSError:
        raise PreviewError(f"host {host!r} not found") from None
    for address in addresses:
        problem = address_problem(address.split("%", 1)[0], allow_private)
        if problem:
            raise PreviewError(
                f"{host}: {problem}; refused" + ("" if allow_private else " (allow_private is off)")
            )


def fetch(url: str, allow_private: bool, crawl: CrawlSettings) -> tuple[bytes, str, str | None]:
    """Return (body, final URL, content type) of a GET that the SSRF guard allows."""
    limit = parse_size(crawl.max_page_size)
    timeout = parse_duration(crawl.download_timeout).total_seconds()
    headers = {"User-Agent": crawl.user_agent}
    with httpx.Client(follow_redirects=False, timeout=timeout, headers=headers, trust_env=False) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            _check_host(url, allow_private)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect and response.headers.get("location"):
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code >= 400:
                        raise PreviewError(f"the server answered HTTP {response.status_code}")
                    body = b""
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > limit:
                            raise PreviewError(f"the response is larger than {crawl.max_page_size}")
                    return body, url, response.headers.get("content-type")
            except httpx.HTTPError as exc:
                raise PreviewError(f"fetch failed: {type(exc).__name__}") from None
    raise PreviewError(f"more than {MAX_REDIRECTS} redirects")


def discover(
    kind: str, body: bytes, url: str, content_type: str | None, links: str | None
) -> list[FeedEntry]:
    """Return the article entries the source's page lists, newest first where it says."""
    if kind == "feed":
        return parse_feed(body, url, content_type).entries
    if kind == "sitemap":
        sitemap = parse_sitemap(body, url)
        if sitemap.kind == "index":
            return [FeedEntry(url=entry.loc, title=INDEX_ENTRY) for entry in sitemap.entries]
        entries = sorted(sitemap.entries, key=lambda e: e.newest.timestamp() if e.newest else 0, reverse=True)
        return [entry.feed_entry() for entry in entries]
    response = HtmlResponse(url=url, body=body, encoding=None)
    return listing_entries(response, links or "a")


def preview(
    kind: str, url: str, links: str | None, allow_private: bool, crawl: CrawlSettings
) -> dict[str, Any]:
    """Return the discovered entries (at most SHOWN) and the first article, extracted."""
    body, final_url, content_type = fetch(url, allow_private, crawl)
    try:
        entries = discover(kind, body, final_url, content_type, links)
    except Exception as exc:  # noqa: BLE001 - a hostile or broken document is the user's answer
        raise PreviewError(f"not a readable {kind}: {type(exc).__name__}") from None
    discovered = [
        {"url": e.url, "title": e.title, "published_at": e.published.isoformat() if e.published else None}
        for e in entries[:SHOWN]
    ]
    article = None
    if entries and entries[0].title != INDEX_ENTRY:
        try:
            page, page_url, _ = fetch(entries[0].url, allow_private, crawl)
            extracted = extract_article(page, page_url, entries[0]).to_json()
            wanted = ("url", "canonical_url", "title", "text", "authors", "language", "published")
            article = {key: extracted.get(key) for key in wanted}
        except PreviewError as exc:
            article = {"url": entries[0].url, "error": str(exc)}
    return {
        "kind": kind,
        "url": final_url,
        "found": len(entries),
        "discovered": discovered,
        "article": article,
    }
