"""OPML import and export of sources (the format feed readers exchange subscriptions in).

Export: one `<outline>` per source, `type="rss"` and `xmlUrl` for a feed (any reader can use
it); sitemaps and listings carry `type="sitemap"` / `type="listing"` and newswatch's own
attributes (`newswatchName`, `every`, `links`) so that an export imports back unchanged.
Import reads every outline with an `xmlUrl`, nested folders included; the document is parsed
with defusedxml (no entities, no external references).
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import quoteattr

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from newswatch.core.config import Source

MAX_OUTLINES = 2000


class OpmlError(ValueError):
    """The body is not an OPML document newswatch can read."""


def render_opml(sources: list[Source], title: str = "newswatch sources") -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_escape(title)}</title></head>",
        "  <body>",
    ]
    for source in sources:
        attributes: dict[str, str] = {
            "text": source.name,
            "title": source.name,
            "type": "rss" if source.kind == "feed" else source.kind,
            "xmlUrl": source.url,
            "newswatchName": source.name,
            "every": source.every,
        }
        if source.links:
            attributes["links"] = source.links
        if source.backfill != "24h":
            attributes["backfill"] = source.backfill
        if not source.enabled:
            attributes["enabled"] = "false"
        rendered = " ".join(f"{key}={quoteattr(value)}" for key, value in attributes.items())
        lines.append(f"    <outline {rendered}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slug(text: str) -> str:
    """Return a source name ([a-z0-9-]) made from an outline's title."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name[:60].strip("-") or "source"


def parse_opml(body: bytes) -> list[dict[str, Any]]:
    """Return the source fields of every outline with an `xmlUrl` (OpmlError if unreadable)."""
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as exc:
        raise OpmlError(f"not a readable OPML document ({type(exc).__name__})") from None
    if root.tag != "opml":
        raise OpmlError("not an OPML document (no <opml> root element)")
    found = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if not url:
            continue
        if len(found) >= MAX_OUTLINES:
            raise OpmlError(f"more than {MAX_OUTLINES} outlines")
        kind = outline.get("type", "rss").lower()
        kind = kind if kind in ("sitemap", "listing") else "feed"
        name = outline.get("newswatchName") or slug(outline.get("title") or outline.get("text") or url)
        fields: dict[str, Any] = {"name": name, kind: url}
        for key in ("every", "links", "backfill"):
            if outline.get(key):
                fields[key] = outline.get(key)
        if outline.get("enabled") == "false":
            fields["enabled"] = False
        found.append(fields)
    return found
