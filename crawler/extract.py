"""Article extraction: the article's own text and metadata from one HTML page.

BASELINE (issue 3 replaces the body-text method; the interface below is stable):
`extract_article(html, url=None, feed_entry=None) -> ExtractedArticle`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime


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
        row = asdict(self)
        for key in ("published", "updated"):
            row[key] = row[key].isoformat() if row[key] else None
        return row


def extract_article(html: bytes | str, url: str | None = None, feed_entry: FeedEntry | None = None) -> ExtractedArticle:
    """Return the article extracted from `html` (bytes are decoded by their declared charset)."""
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False, as_dict=True)
    doc = doc or {}
    title = doc.get("title") or (feed_entry.title if feed_entry else "") or ""
    text = doc.get("text") or (feed_entry.summary if feed_entry else "") or ""
    return ExtractedArticle(
        url=url,
        canonical_url=url,
        title=title,
        text=text,
        authors=[a.strip() for a in (doc.get("author") or "").split(";") if a.strip()],
        language=doc.get("language"),
        description=doc.get("description"),
        site_name=doc.get("sitename"),
    )
