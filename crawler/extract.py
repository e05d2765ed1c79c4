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
The function and its result are picklable and this module imports cheaply (the extraction
itself, crawler.extraction.page with trafilatura and lxml, is imported on the first call), so
the crawling process can hand pages to a ProcessPoolExecutor without loading it.
"""

from __future__ import annotations

import logging
import re

from crawler.extraction.dates import to_utc
from crawler.items import ExtractedArticle, FeedEntry

LOGGER = logging.getLogger(__name__)


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


def extract_article(
    html: bytes | str, url: str | None = None, feed_entry: FeedEntry | None = None
) -> ExtractedArticle:
    """Return the article extracted from `html` (bytes are decoded by their declared charset)."""
    # Imported on first use: trafilatura and friends cost the crawling process ~0.5 s and
    # tens of MB it does not need (extraction runs in the workers).
    from crawler.extraction.page import page_article

    try:
        article = page_article(html, url)
    except Exception:  # one hostile page must not stop a crawl
        LOGGER.warning("extraction failed url=%s", url, exc_info=True)
        article = ExtractedArticle(url=url, canonical_url=url, title="", text="")
    if feed_entry is not None:
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
    return _without_surrogates(article)


# A lone surrogate (from `\ud800` in JSON-LD, say) cannot be encoded as UTF-8: the database
# would refuse the whole article. Such code points become U+FFFD; nothing else is touched.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(article: ExtractedArticle) -> ExtractedArticle:
    for name in ("url", "canonical_url", "title", "text", "language", "description", "site_name"):
        value = getattr(article, name)
        if value and _SURROGATE.search(value):
            setattr(article, name, _SURROGATE.sub("\ufffd", value))
    article.authors = [_SURROGATE.sub("\ufffd", author) for author in article.authors]
    return article
