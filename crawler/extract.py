"""Article extraction: the article's own text and metadata from one HTML page.

Contract: `extract_article(html, url=None, feed_entry=None) -> ExtractedArticle`.
- `html` as bytes is decoded by BOM, then the declared charset (`<meta charset>` /
  `http-equiv`), then a guess (crawler/extraction/charset.py); a str is used as is.
- `text` is the article only: navigation, "also read"/related boxes, newsletter and share
  blocks, comments and ads are left out (crawler/extraction/body.py says how).
- Metadata comes from the page's JSON-LD, OpenGraph and meta tags (crawler/extraction/metadata.py),
  then trafilatura's byline search and htmldate for what those lack.
- Times are timezone-aware UTC; a page date without a timezone is taken as UTC.
- When the page yields no text or no title (an empty page, a script-only shell), the feed
  entry's summary, title, dates, authors and language fill in.
- It never raises on bad input: garbage HTML gives an article with empty text.
The function and its result are picklable and the module imports cheaply (heavy imports happen
on first call), so the crawler can run it in a ProcessPoolExecutor.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime

LOGGER = logging.getLogger(__name__)

# Real article pages hold under 200,000 characters once scripts and styles are gone (the 102
# shared pages: at most 198k); a page far beyond that is hostile or a dump, and would hold a
# worker for seconds. Such pages lose their scripts, styles and SVG (JSON-LD kept), then are cut.
MAX_PAGE_CHARS = 1_000_000
_BULKY_BLOCKS = re.compile(
    r"<(script|style|svg)\b(?![^>]*application/ld\+json)[^>]*>.*?</\1\s*>", re.S | re.I
)


@dataclass
class FeedEntry:
    """What a feed or sitemap said about an article: the fallback when the page yields nothing."""

    url: str
    title: str | None = None
    summary: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    language: str | None = None


@dataclass
class ExtractedArticle:
    """An article as extracted from its page. Times are timezone-aware UTC or None."""

    url: str | None
    canonical_url: str | None
    title: str
    text: str
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    language: str | None = None
    description: str | None = None
    site_name: str | None = None

    def to_json(self) -> dict:
        """Return the article as a JSON-ready dict (datetimes as ISO 8601 strings)."""
        row = asdict(self)
        for key in ("published", "updated"):
            row[key] = row[key].isoformat() if row[key] else None
        return row


def _bounded(text: str) -> str:
    """Return the page, shrunk to MAX_PAGE_CHARS if it is larger (see above)."""
    if len(text) <= MAX_PAGE_CHARS:
        return text
    text = _BULKY_BLOCKS.sub("", text)
    if len(text) > MAX_PAGE_CHARS:
        LOGGER.info("page cut to %d characters (was %d)", MAX_PAGE_CHARS, len(text))
        text = text[:MAX_PAGE_CHARS]
    return text


def _parse(text: str):
    """Return the lxml tree of a page, or None when it is not HTML at all."""
    from crawler.extraction.parse import parse_html

    try:
        return parse_html(text)
    except Exception:  # noqa: BLE001 - lxml raises many kinds on hostile input
        LOGGER.debug("unparseable page", exc_info=True)
        return None


def _strip_html(text: str | None) -> str:
    """Return the plain text of a feed summary (which is often HTML)."""
    if not text:
        return ""
    if "<" not in text:
        return text.strip()
    try:
        import lxml.html

        return lxml.html.fromstring(f"<div>{text}</div>").text_content().strip()
    except Exception:  # noqa: BLE001
        return text.strip()


def _page_article(html: bytes | str, url: str | None) -> ExtractedArticle:
    from crawler.extraction.body import extract_body
    from crawler.extraction.charset import decode_html
    from crawler.extraction.dates import parse_date
    from crawler.extraction.metadata import byline_authors, extract_metadata

    text = decode_html(html) if isinstance(html, bytes) else html
    article = ExtractedArticle(url=url, canonical_url=url, title="", text="")
    if not text or not text.strip():
        return article
    tree = _parse(_bounded(text))
    if tree is None:
        return article
    meta = extract_metadata(tree, url)
    if not meta.authors:
        meta.authors = byline_authors(tree)
    if meta.published is None:
        from htmldate import find_date

        found = find_date(
            tree, extensive_search=False, original_date=True, outputformat="%Y-%m-%dT%H:%M:%S%z"
        )
        meta.published = parse_date(found)
    body = extract_body(
        tree,
        url=url,
        titles=meta.title_candidates,
        article_body=meta.article_body,
        description=meta.description,
    )
    article.canonical_url = meta.canonical_url or url
    article.title = meta.title or ""
    article.text = body
    article.authors = meta.authors
    article.published = meta.published
    article.updated = meta.updated
    article.language = meta.language
    article.description = meta.description
    article.site_name = meta.site_name
    return article


def extract_article(
    html: bytes | str, url: str | None = None, feed_entry: FeedEntry | None = None
) -> ExtractedArticle:
    """Return the article extracted from `html` (bytes are decoded by their declared charset)."""
    try:
        article = _page_article(html, url)
    except Exception:  # noqa: BLE001 - one hostile page must not stop a crawl
        LOGGER.warning("extraction failed url=%s", url, exc_info=True)
        article = ExtractedArticle(url=url, canonical_url=url, title="", text="")
    if feed_entry is not None:
        from crawler.extraction.dates import to_utc

        article.url = article.url or feed_entry.url
        article.canonical_url = article.canonical_url or feed_entry.url
        article.title = article.title or (feed_entry.title or "").strip()
        if not article.text.strip():
            article.text = _strip_html(feed_entry.summary)
        article.published = article.published or (
            to_utc(feed_entry.published) if feed_entry.published else None
        )
        article.updated = article.updated or (to_utc(feed_entry.updated) if feed_entry.updated else None)
        article.authors = article.authors or list(feed_entry.authors)
        article.language = article.language or feed_entry.language
        article.description = article.description or (_strip_html(feed_entry.summary) or None)
    return article
