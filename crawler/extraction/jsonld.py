"""Reading a page's JSON-LD as publishers write it, not only as the specification does.

`json_ld_roots(tree)` parses every `<script type="application/ld+json">` and forgives what
real pages get wrong: a type with parameters (`application/ld+json; charset=utf-8`), control
characters inside strings, escapes JSON does not know (`\'`), HTML comment or CDATA wrappers,
trailing commas, several objects written one after the other. A script that still cannot be
read is skipped. `walk` yields every object inside the parsed data (following `@graph` and
nested values), and `by_id` indexes objects by `@id`, so a `liveBlogUpdate` written as a
reference (`{"@id": "#update-3"}`) finds the object it names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from lxml.html import HtmlElement

_WRAPPERS = re.compile(
    r"^\s*(?:<!--|/\*\s*<!\[CDATA\[\s*\*/|<!\[CDATA\[)|(?:-->|/\*\s*\]\]>\s*\*/|\]\]>)\s*;?\s*$"
)
_TRAILING_COMMA = re.compile(r",\s*([\]}])")
_BAD_ESCAPE = re.compile(r'\\([^"\\/bfnrtu])')
_DECODER = json.JSONDecoder(strict=False)


def parse_json_ld(raw: str) -> list[Any]:
    """Return the JSON values in one script's text ([] when it cannot be read)."""
    raw = raw.strip()
    if not raw:
        return []
    try:
        return [json.loads(raw)]
    except ValueError:
        pass
    text = _WRAPPERS.sub("", raw).strip().rstrip(";")
    repaired = _TRAILING_COMMA.sub(r"\1", _BAD_ESCAPE.sub(r"\1", text))
    for candidate in (text, repaired):
        values, position = [], 0
        try:
            while position < len(candidate):
                value, position = _DECODER.raw_decode(candidate, position)
                values.append(value)
                while position < len(candidate) and candidate[position] in " \t\r\n,;":
                    position += 1
        except ValueError:
            continue
        return values
    return []


def json_ld_roots(tree: HtmlElement) -> list[Any]:
    """Return the parsed values of every JSON-LD script of the page, in page order."""
    roots: list[Any] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower().startswith("application/ld+json"):
            roots.extend(parse_json_ld(script.text or ""))
    return roots


def walk(data: Any, depth: int = 0, skip: frozenset[str] = frozenset()) -> Iterator[dict]:
    """Yield every dict inside parsed JSON-LD (following @graph and nested values), except
    below the keys in `skip`."""
    if depth > 6:
        return
    if isinstance(data, list):
        for item in data:
            yield from walk(item, depth + 1, skip)
    elif isinstance(data, dict):
        yield data
        for key, value in data.items():
            if key in skip:
                continue
            if key in ("@graph", "mainEntity", "itemListElement") or isinstance(value, list):
                yield from walk(value, depth + 1, skip)


def by_id(roots: list[Any]) -> dict[str, dict]:
    """Return the page's JSON-LD objects that have an `@id`, keyed by it."""
    index: dict[str, dict] = {}
    for obj in walk(roots):
        key = obj.get("@id")
        if isinstance(key, str) and len(obj) > 1:
            index.setdefault(key, obj)
    return index


def types(obj: dict) -> str:
    """Return the object's `@type` as one string ("LiveBlogPosting NewsArticle")."""
    kind = obj.get("@type")
    if isinstance(kind, list):
        return " ".join(str(k) for k in kind)
    return str(kind or "")
