"""Feeds: RSS 0.9x / 1.0 / 2.0 and Atom bytes (as Scrapy fetched them) → `FeedEntry` list.

- feedparser only ever sees the bytes, wrapped in a stream: given a string it would fetch a
  URL, and given bytes that spell a path it would read a local file.
- A document that declares XML entities in its DTD is refused (`HostileDocument`): no news
  feed needs them, and they are how entity-expansion ("billion laughs") bombs work.
- A malformed feed is parsed as far as it goes (feedparser's lenient mode); the result
  carries a warning naming the problem.
- Entries come back newest first when every entry has a date; otherwise in document order
  (feeds list their newest items first). Relative links resolve against the feed's URL.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from crawler.items import FeedEntry, HostileDocument

# The prolog is everything before the root element: XML declaration, comments, DOCTYPE.
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ROOT_START = re.compile(rb"<[A-Za-z_]")
PROLOG_SCAN_BYTES = 64 * 1024


@dataclass
class ParsedFeed:
    title: str | None
    entries: list[FeedEntry]
    warnings: list[str] = field(default_factory=list)


def refuse_entity_declarations(body: bytes, what: str = "document") -> None:
    """Raise HostileDocument when the document's prolog declares XML entities."""
    head = body[:PROLOG_SCAN_BYTES]
    root = _ROOT_START.search(head)
    prolog = head[: root.start()] if root else head
    # A DOCTYPE's internal subset sits in the prolog; ignore the element-like "<!ENTITY" itself.
    if _ENTITY_DECLARATION.search(prolog) or (root is None and _ENTITY_DECLARATION.search(head)):
        raise HostileDocument(f"{what} declares XML entities (possible entity-expansion bomb); refused")
    try:
        import defusedxml.ElementTree as SafeET
        from defusedxml import DefusedXmlException
    except ImportError:  # pragma: no cover - defusedxml is a dependency
        return
    try:
        SafeET.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise HostileDocument(f"{what} refused: {type(exc).__name__}") from None
    except Exception:  # noqa: BLE001 - malformed XML is the lenient parser's business
        return


def _to_datetime(parsed) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _entry_url(entry) -> str | None:
    for key in ("feedburner_origlink", "link"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    for link in entry.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"].strip()
    guid = entry.get("id")
    if isinstance(guid, str) and guid.strip().lower().startswith(("http://", "https://")):
        return guid.strip()
    return None


def _authors(entry) -> list[str]:
    names = [a.get("name", "").strip() for a in entry.get("authors") or [] if isinstance(a, dict)]
    names = [n for n in names if n]
    if not names and isinstance(entry.get("author"), str) and entry["author"].strip():
        names = [entry["author"].strip()]
    return names


def _clean_summary(html: str | None) -> str | None:
    if not html:
        return None
    from w3lib.html import remove_tags, replace_entities

    text = re.sub(r"\s+", " ", replace_entities(remove_tags(html))).strip()
    return text or None


# feedparser fails on a character reference to a lone surrogate (`&#xD800;`: it cannot encode
# it), losing every entry of the feed; such a reference becomes U+FFFD first.
_CHARACTER_REFERENCE = re.compile(rb"&#([xX][0-9a-fA-F]{1,8}|[0-9]{1,10});")


def _replace_surrogate(match: re.Match[bytes]) -> bytes:
    digits = match.group(1)
    code = int(digits[1:], 16) if digits[:1] in b"xX" else int(digits)
    return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF else match.group(0)


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Return the feed's entries (newest first) from the fetched bytes; never touches the network."""
    import feedparser

    refuse_entity_declarations(body, "feed")
    if b"&#" in body:
        body = _CHARACTER_REFERENCE.sub(_replace_surrogate, body)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    benign = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False)
    warnings: list[str] = []
    if parsed.get("bozo") and not isinstance(parsed.get("bozo_exception"), benign):
        problem = parsed.get("bozo_exception")
        detail = f"{type(problem).__name__}: {problem}" if problem else "not well-formed"
        if parsed.entries:
            warnings.append(f"malformed feed, parsed leniently ({len(parsed.entries)} entries): {detail}")
        elif not parsed.get("version"):
            warnings.append(f"not a feed (no RSS or Atom found): {detail}")
        else:
            warnings.append(f"malformed feed without entries: {detail}")
    elif not parsed.get("version") and not parsed.entries:
        warnings.append("not a feed (no RSS or Atom found)")

    language = parsed.feed.get("language") if parsed.get("feed") else None
    entries: list[FeedEntry] = []
    for item in parsed.entries:
        link = _entry_url(item)
        if not link:
            continue
        summary = _clean_summary(item.get("summary"))
        entries.append(
            FeedEntry(
                url=link,
                title=(item.get("title") or "").strip() or None,
                summary=summary,
                published=_to_datetime(item.get("published_parsed"))
                or _to_datetime(item.get("created_parsed"))
                or _to_datetime(item.get("updated_parsed")),
                updated=_to_datetime(item.get("updated_parsed")),
                authors=_authors(item),
                language=item.get("language") or language,
            )
        )
    if entries and all(e.published or e.updated for e in entries):
        entries.sort(key=lambda e: e.published or e.updated, reverse=True)
    title = parsed.feed.get("title") if parsed.get("feed") else None
    return ParsedFeed(title=title, entries=entries, warnings=warnings)
