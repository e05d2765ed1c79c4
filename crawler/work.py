"""The CPU-heavy part of storing an article, run in the worker pool (crawler.ingest).

`process_page(html, url, feed_entry)` extracts the article (crawler.extract), decides its
canonical URL and computes the fingerprints the store needs (content hash, SimHash). It is a
plain function of its arguments, so it can run in any worker process.

Canonical URL: the page's own `<link rel="canonical">`, else the extractor's canonical URL
(og:url and the like), else the fetched URL — always normalised (crawler.urls), and only
accepted when it is on the same site as the fetched page (see `crawler.urls.same_site`).
"""

from __future__ import annotations

import html as html_lib
import re
import time
from dataclasses import dataclass

from crawler import stories
from crawler.extract import ExtractedArticle, extract_article
from crawler.items import FeedEntry
from crawler.urls import normalise_url, same_site, try_normalise

_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([a-zA-Z:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
CANONICAL_SCAN_CHARS = 300_000


@dataclass
class ProcessedPage:
    """An extracted article with what the store needs to place it."""

    article: ExtractedArticle
    canonical_url: str
    content_hash: str
    simhash: int | None  # signed 64-bit, as stored
    dedupable: bool
    extract_ms: float


def page_canonical(html: str) -> str | None:
    """Return the href of the page's first `<link rel="canonical">`, or None."""
    for tag in _LINK_TAG.finditer(html[:CANONICAL_SCAN_CHARS]):
        attributes = {
            m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
            for m in _ATTRIBUTE.finditer(tag.group(0))
        }
        if "canonical" in attributes.get("rel", "").lower().split() and attributes.get("href"):
            return html_lib.unescape(attributes["href"].strip())
    return None


def choose_canonical(html: str, url: str, extracted: str | None) -> str:
    """Return the normalised canonical URL of the page fetched from `url`."""
    for candidate in (page_canonical(html), extracted):
        normal = try_normalise(candidate, base=url)
        if normal and same_site(normal, url):
            return normal
    return normalise_url(url)


def process_page(html: str, url: str, feed_entry: FeedEntry | None = None) -> ProcessedPage:
    """Return the article on `html` (fetched from `url`), its canonical URL and fingerprints."""
    started = time.perf_counter()
    article = extract_article(html, url=url, feed_entry=feed_entry)
    extract_ms = (time.perf_counter() - started) * 1000
    return fingerprinted(article, choose_canonical(html, url, article.canonical_url), extract_ms)


def fingerprinted(article: ExtractedArticle, canonical: str, extract_ms: float = 0.0) -> ProcessedPage:
    """Return the article with the fingerprints the store places it by."""
    tokens = stories.fingerprint_words(article.text or "")  # once for all three fingerprints
    dedupable = len(tokens) >= stories.MIN_WORDS
    value = stories.simhash_words(tokens) if dedupable else None
    return ProcessedPage(
        article=article,
        canonical_url=canonical,
        content_hash=stories.words_hash(tokens, salt="" if dedupable else canonical + "\n"),
        simhash=stories.to_signed(value) if value is not None else None,
        dedupable=dedupable,
        extract_ms=extract_ms,
    )


WARM_UP_PAGE = (
    "<html><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1>"
    + "<p>This paragraph only loads the extraction stack before real pages arrive.</p>" * 5
    + "</article></body></html>"
)


def warm_up() -> int:
    """Run one tiny extraction, so every module the extractor loads lazily is imported."""
    try:
        process_page(WARM_UP_PAGE, "http://localhost/warm-up")
    except Exception:  # noqa: BLE001 - a real page will report the problem properly
        return 1
    return 0
