"""An article on its way in: what discovery said about it (`FeedEntry`), the fetched page the
spiders hand to the pipeline (`ArticlePage`), what extraction made of it (`ExtractedArticle`),
and the refusal of a hostile discovery document
(`HostileDocument`)."""

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
    live: bool = False  # a live blog still being updated: re-fetched on later polls

    def to_json(self) -> dict:
        """Return the article as a JSON-ready dict (datetimes as ISO 8601 strings)."""
        row = asdict(self)
        for key in ("published", "updated"):
            row[key] = row[key].isoformat() if row[key] else None
        return row


@dataclass
class ArticlePage:
    """A fetched article page, before extraction.

    `variants` are every URL that led here: as discovered (tracking parameters and all),
    normalised, each redirect hop and the final URL.
    """

    source: str
    url: str
    html: str
    variants: list[str] = field(default_factory=list)
    feed_entry: FeedEntry | None = None
    live_page_id: int | None = None  # a re-fetch of a live page (crawler.livepages)


class HostileDocument(ValueError):
    """A feed or sitemap that is refused outright (entity declarations, decompression bomb)."""
