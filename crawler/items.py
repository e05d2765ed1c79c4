"""Items the spiders hand to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

from crawler.extract import FeedEntry


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
