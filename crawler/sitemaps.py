"""Sitemaps: sitemap indexes, URL sets and Google News sitemaps → entries, newest first.

- Parsed with defusedxml (no DTD at all: sitemaps never need one); a document that fails
  there only because it is malformed is read again with lxml in recover mode (entities
  unresolved, no network) and the result carries a warning.
- Gzipped sitemaps (`.xml.gz` served as a file, not as a transfer encoding) are unpacked
  up to `max_size` bytes; a bigger one is refused as a decompression bomb.
- Order: by `news:publication_date`, else `lastmod`, newest first; undated entries follow
  in document order. An index's child sitemaps are ordered the same way; when none has a
  `lastmod`, the last ones listed come first (indexes usually append new sitemaps).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crawler.feeds import refuse_entity_declarations
from crawler.items import FeedEntry, HostileDocument

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit for one uncompressed file


@dataclass
class SitemapEntry:
    loc: str
    lastmod: datetime | None = None
    news_title: str | None = None
    news_published: datetime | None = None
    news_language: str | None = None

    @property
    def newest(self) -> datetime | None:
        return self.news_published or self.lastmod

    def feed_entry(self) -> FeedEntry:
        return FeedEntry(
            url=self.loc,
            title=self.news_title,
            published=self.news_published or self.lastmod,
            updated=self.lastmod,
            language=self.news_language,
        )


@dataclass
class ParsedSitemap:
    kind: str  # "index" | "urlset"
    entries: list[SitemapEntry]
    warnings: list[str] = field(default_factory=list)


def parse_w3c_datetime(text: str | None) -> datetime | None:
    """Return a W3C datetime ('2024-05-01', '2024-05-01T10:00:00+03:00', …) as UTC, or None."""
    if not text or not text.strip():
        return None
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            from dateutil import parser as date_parser

            parsed = date_parser.parse(value)
        except (ValueError, OverflowError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def gunzip_limited(body: bytes, max_size: int = MAX_SITEMAP_BYTES) -> bytes:
    """Return gzip `body` unpacked; HostileDocument if it unpacks to more than `max_size`."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(body, max_size + 1)
    except zlib.error as exc:
        raise HostileDocument(f"sitemap is not valid gzip: {exc}") from None
    if len(out) > max_size or decompressor.unconsumed_tail:
        raise HostileDocument(f"gzipped sitemap unpacks to more than {max_size} bytes; refused")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def _news(element) -> tuple[str | None, datetime | None, str | None]:
    for child in element:
        if _local(child.tag) != "news":
            continue
        title = _child_text(child, "title")
        published = parse_w3c_datetime(_child_text(child, "publication_date"))
        language = None
        for sub in child:
            if _local(sub.tag) == "publication":
                language = _child_text(sub, "language")
        return title, published, language
    return None, None, None


def _parse_tree(body: bytes):
    """Return (root element, warning or None)."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        return SafeET.fromstring(body, forbid_dtd=True), None
    except DefusedXmlException as exc:
        raise HostileDocument(f"sitemap refused: {type(exc).__name__} (sitemaps need no DTD)") from None
    except SafeET.ParseError as exc:
        from lxml import etree

        parser = etree.XMLParser(
            recover=True, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
        root = etree.fromstring(body, parser=parser)
        if root is None:
            raise ValueError(f"not a sitemap (unparseable XML: {exc})") from None
        return root, f"malformed sitemap, parsed leniently: {exc}"


def parse_sitemap(body: bytes, url: str = "", max_size: int = MAX_SITEMAP_BYTES) -> ParsedSitemap:
    """Return the sitemap's entries (child sitemaps for an index), newest first."""
    if body[:2] == b"\x1f\x8b":
        body = gunzip_limited(body, max_size)
    body = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    refuse_entity_declarations(body, "sitemap")
    root, warning = _parse_tree(body)
    kind_tag = _local(root.tag)
    if kind_tag not in ("sitemapindex", "urlset"):
        raise ValueError(f"not a sitemap (root element <{kind_tag}>)")
    kind = "index" if kind_tag == "sitemapindex" else "urlset"
    item_tag = "sitemap" if kind == "index" else "url"
    entries: list[SitemapEntry] = []
    for element in root:
        if _local(element.tag) != item_tag:
            continue
        loc = _child_text(element, "loc")
        if not loc:
            continue
        title, published, language = _news(element) if kind == "urlset" else (None, None, None)
        entries.append(
            SitemapEntry(
                loc=loc,
                lastmod=parse_w3c_datetime(_child_text(element, "lastmod")),
                news_title=title,
                news_published=published,
                news_language=language,
            )
        )
    if kind == "index" and entries and not any(e.newest for e in entries):
        entries.reverse()
    else:
        dated = [e for e in entries if e.newest]
        undated = [e for e in entries if not e.newest]
        dated.sort(key=lambda e: e.newest, reverse=True)
        entries = dated + undated
    return ParsedSitemap(kind=kind, entries=entries, warnings=[warning] if warning else [])
