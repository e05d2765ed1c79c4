"""One HTML page to an article: decode, parse, metadata, body (crawler.extract's heavy half)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from htmldate import find_date

from crawler.extraction.body import extract_body
from crawler.extraction.charset import decode_page
from crawler.extraction.dates import parse_date
from crawler.extraction.metadata import byline_authors, extract_metadata
from crawler.extraction.parse import parse_html
from crawler.items import ExtractedArticle

LOGGER = logging.getLogger(__name__)

# Real article pages hold under 200,000 characters once scripts and styles are gone (the 102
# shared pages: at most 198k); a page far beyond that is hostile or a dump, and would hold a
# worker for seconds. Such pages lose their scripts, styles and SVG, then are cut. JSON-LD is
# kept and not counted: a live blog's structured data alone can pass the limit (hundreds of
# updates), and reading it costs little. It has a bound of its own, MAX_JSON_LD_CHARS.
MAX_PAGE_CHARS = 1_000_000
MAX_JSON_LD_CHARS = 5_000_000
_BULKY_OPENING = re.compile(r"<(script|style|svg)\b([^>]*)>", re.I)
_BULKY_CLOSING = {name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style", "svg")}
_SCRIPT_OPENING = re.compile(r"<script\b", re.I)
# Scripts that are read: JSON-LD (metadata, live blogs) and what htmldate reads for dates.
_KEPT_SCRIPTS = ("application/ld+json", "application/settings+json")


def _without_bulky_blocks(text: str) -> list[tuple[bool, str]]:
    """Return the page without its scripts (JSON-LD kept), styles and SVG, in pieces:
    (whether the piece is a JSON-LD block, the piece), in page order.

    One pass of searches (a block ends at its closing tag, searched for from its start; a tag
    found unclosed once is not searched for again): linear in the page's length, unlike a lazy
    `<script>.*?</script>` expression, which costs ~10 ms per million characters. A script with
    another `<script` inside is left to the parser: its opening may be no tag (in an attribute's
    value or a comment), and removing up to the next closing could take text.
    Scripts of htmldate's `application/settings+json` count as JSON-LD."""
    pieces: list[tuple[bool, str]] = []
    unclosed: set[str] = set()
    kept_from = searched_from = 0
    while (opening := _BULKY_OPENING.search(text, searched_from)) is not None:
        name = opening.group(1).lower()
        closing = None if name in unclosed else _BULKY_CLOSING[name].search(text, opening.end())
        if closing is None:  # the parser takes the rest of the page as its content: kept
            unclosed.add(name)
            searched_from = opening.end()
            continue
        if name == "script" and _SCRIPT_OPENING.search(text, opening.end(), closing.start()) is not None:
            searched_from = closing.end()  # see above: all of it is left to the parser
            continue
        pieces.append((False, text[kept_from : opening.start()]))
        attributes = opening.group(2).lower()
        if name == "script" and any(kind in attributes for kind in _KEPT_SCRIPTS):
            pieces.append((True, text[opening.start() : closing.end()]))
        kept_from = searched_from = closing.end()
    pieces.append((False, text[kept_from:]))
    return pieces


def _bounded(text: str) -> str:
    """Return the page, shrunk to MAX_PAGE_CHARS (plus its JSON-LD) if it is larger (see above)."""
    if len(text) <= MAX_PAGE_CHARS:
        return text
    pieces = _without_bulky_blocks(text)
    text = "".join(piece for _, piece in pieces)
    if len(text) <= MAX_PAGE_CHARS:
        return text
    rest = "".join(piece for is_json_ld, piece in pieces if not is_json_ld)
    if len(rest) > MAX_PAGE_CHARS:
        LOGGER.info("page cut to %d characters (was %d)", MAX_PAGE_CHARS, len(rest))
        rest = rest[:MAX_PAGE_CHARS]
    kept, size = [], 0
    for block in (piece for is_json_ld, piece in pieces if is_json_ld):
        size += len(block)
        if size > MAX_JSON_LD_CHARS:
            break
        kept.append(block)
    return "".join(kept) + rest


def parse_page(text: str, encoded: bytes | None = None):
    """Return the lxml tree of a page, or None when it is not HTML at all (`encoded`: the
    text's UTF-8 bytes when the caller has them)."""
    try:
        return parse_html(text, encoded)
    except Exception:  # lxml raises many kinds on hostile input
        LOGGER.debug("unparseable page", exc_info=True)
        return None


def page_article(html: bytes | str, url: str | None) -> ExtractedArticle:
    text, encoded = decode_page(html) if isinstance(html, bytes) else (html, None)
    article = ExtractedArticle(url=url, canonical_url=url, title="", text="")
    if not text or not text.strip():
        return article
    # Scripts, styles and SVG are ~60% of a news page's characters and nothing reads them
    # (JSON-LD kept): the parser skips them, ~1 ms a page (same articles on all shared pages).
    pieces = _without_bulky_blocks(_bounded(text))
    bounded = pieces[0][1] if len(pieces) == 1 else "".join(piece for _, piece in pieces)
    tree = parse_page(bounded, encoded if bounded is text else None)
    if tree is None:
        return article
    meta = extract_metadata(tree, url)
    if not meta.authors:
        meta.authors = byline_authors(tree)
    if meta.published is None:
        found = find_date(
            tree, extensive_search=False, original_date=True, outputformat="%Y-%m-%dT%H:%M:%S%z"
        )
        meta.published = parse_date(found)
    body = extract_body(tree, url, meta, now=datetime.now(UTC))
    article.canonical_url = meta.canonical_url or url
    article.title = meta.title or ""
    article.text = body.text
    article.live = body.live
    article.authors = meta.authors
    article.published = meta.published
    article.updated = meta.updated
    article.language = meta.language
    article.description = meta.description
    article.site_name = meta.site_name
    return article
