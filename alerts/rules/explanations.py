"""Explanations of a match: which words made a rule true where, and a highlighted snippet.

They come from the plain evaluator in `alerts.rules.reference`, run only for the rules the
compiled matcher found (`CompiledRules.match`), and for the archive search's results: the
compiled matcher decides, the plain evaluator explains.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.rules import reference
from alerts.rules.tree import FIELDS, Query

SNIPPET_BEFORE = 12  # words shown before the first hit
SNIPPET_AFTER = 24  # words shown after it


@dataclass
class RuleMatch:
    """One rule that matched one article, with what hit where and a highlighted snippet."""

    rule: str
    hits: dict[str, list[str]]
    snippet: str


def explain(name: str, query: Query, article: reference.Article) -> RuleMatch:
    """Return the rule's hits per field (surface forms, in order, once each) and its snippet."""
    _, hits = reference.explain(query.root, article)
    by_field: dict[str, list[str]] = {}
    spans: dict[str, list[tuple[int, int]]] = {f: [] for f in FIELDS}
    for field_name, span in hits:
        spans[field_name].append(span)
    for field_name in FIELDS:
        words = article.fields[field_name]
        seen: set[str] = set()
        for start, end in sorted(set(spans[field_name])):
            key = " ".join(words.folded[start : end + 1])
            if key in seen:
                continue
            seen.add(key)
            surface = words.text[words.matches[start].start() : words.matches[end].end()]
            by_field.setdefault(field_name, []).append(" ".join(surface.split()))
    snippet_field = "text" if spans["text"] else "title"
    snippet = make_snippet(article.fields[snippet_field], sorted(set(spans[snippet_field])))
    return RuleMatch(rule=name, hits=by_field, snippet=snippet)


_WHITESPACE = re.compile(r"\s+")


def _clean(text: str) -> str:
    return _WHITESPACE.sub(" ", text.replace("**", "*"))


def make_snippet(words: reference.FieldWords, spans: Sequence[tuple[int, int]]) -> str:
    """Return a few dozen words around the first span, each span inside wrapped in **…**."""
    matches, text = words.matches, words.text
    if not matches:
        return _clean(text).strip()
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if merged:
        first = max(0, merged[0][0] - SNIPPET_BEFORE)
        last = min(len(matches) - 1, max(merged[0][1], merged[0][0] + SNIPPET_AFTER))
    else:
        first, last = 0, min(len(matches), SNIPPET_BEFORE + SNIPPET_AFTER) - 1
    # Keep the punctuation that follows the last word (a full stop, a closing quote).
    stop = matches[last + 1].start() if last + 1 < len(matches) else len(text)
    pieces: list[str] = ["… " if first > 0 else ""]
    cursor = matches[first].start()
    for start, end in merged:
        if start < first or end > last:
            continue
        begin, finish = matches[start].start(), matches[end].end()
        pieces.append(_clean(text[cursor:begin]))
        pieces.append("**" + _clean(text[begin:finish]) + "**")
        cursor = finish
    pieces.append(_clean(text[cursor:stop]).rstrip())
    if last < len(matches) - 1:
        pieces.append(" …")
    return "".join(pieces).strip()
