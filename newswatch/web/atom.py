"""Atom (RFC 4287) feeds of a rule's or a subscriber's matches: one entry per story (its
first matching article), newest first, with the snippet whose hits are marked in bold — so any
feed reader becomes an alert channel."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from newswatch.core.models import utcnow

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class FeedEntry:
    story_id: int
    title: str
    url: str
    source: str
    published: datetime
    snippet: str
    rules: list[str]


def _text(value: str) -> str:
    return escape(_CONTROL.sub("", value or ""))


def snippet_html(snippet: str) -> str:
    """Return the snippet as HTML, its **hits** in <b>, everything else escaped."""
    parts = html.escape(_CONTROL.sub("", snippet)).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def render_atom(feed_id: str, title: str, self_url: str, entries: list[FeedEntry]) -> str:
    """Return the Atom document (UTF-8 text)."""
    updated = max((e.published for e in entries), default=utcnow())
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"  <id>{_text(feed_id)}</id>",
        f"  <title>{_text(title)}</title>",
        f"  <updated>{updated.isoformat()}</updated>",
        f'  <link rel="self" type="application/atom+xml" href="{_text(self_url)}"/>',
        "  <author><name>newswatch</name></author>",
        '  <generator uri="https://github.com/newswatch/newswatch">newswatch</generator>',
    ]
    for entry in entries:
        lines += [
            "  <entry>",
            f"    <id>{_text(feed_id)}:story:{entry.story_id}</id>",
            f"    <title>{_text(entry.title or entry.url)}</title>",
            f'    <link rel="alternate" type="text/html" href="{_text(entry.url)}"/>',
            f"    <updated>{entry.published.isoformat()}</updated>",
            f"    <published>{entry.published.isoformat()}</published>",
            f"    <author><name>{_text(entry.source)}</name></author>",
            *[f'    <category term="{_text(rule)}"/>' for rule in entry.rules],
            f'    <summary type="html">{_text(snippet_html(entry.snippet))}</summary>',
            "  </entry>",
        ]
    lines += ["</feed>", ""]
    return "\n".join(lines)
