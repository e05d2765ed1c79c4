"""Explanations of a match: which words made a rule true where, and a highlighted snippet.

They come from the plain evaluator in `alerts.rules.reference`, run only for the rules the
compiled matcher found (`CompiledRules.match`), and for the archive search's results: the
compiled matcher decides, the plain evaluator explains. On one article, the rules share the
work (`ArticleExplainer`): each word, phrase or NEAR is looked up once however many rules hold
it, and a snippet is made only when it is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from alerts.rules import reference
from alerts.rules.tree import FIELDS, Query

SNIPPET_BEFORE = 12  # words shown before the first hit
SNIPPET_AFTER = 24  # words shown after it


class RuleMatch:
    """One rule that matched one article: what hit where (`hits`: per field, the words as
    written, in order, each once) and a highlighted snippet, made when first asked for."""

    __slots__ = ("_maker", "_snippet", "hits", "rule")

    def __init__(
        self, rule: str, hits: dict[str, list[str]], snippet: Any, maker: Callable[[Any], str] | None = None
    ) -> None:
        # The snippet, or what makes it: a callable, or what `maker` makes it from (the matcher
        # makes hundreds of matches an article, most never shown: that costs no object).
        self.rule, self.hits, self._snippet, self._maker = rule, hits, snippet, maker

    @property
    def snippet(self) -> str:
        found = self._snippet
        if found.__class__ is not str:
            maker = self._maker
            found = self._snippet = found() if maker is None else maker(found)
        return found  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuleMatch):
            return NotImplemented
        return (self.rule, self.hits, self.snippet) == (other.rule, other.hits, other.snippet)

    def __repr__(self) -> str:
        return f"RuleMatch(rule={self.rule!r}, hits={self.hits!r}, snippet={self.snippet!r})"


class ArticleExplainer:
    """Explains rules on one article, sharing what rules have in common: the hits of each word,
    phrase or NEAR, and each hit's folded key and surface form, are found once per article."""

    def __init__(self, article: reference.Article) -> None:
        self.article = article
        self._leaves: dict = {}
        self._words: dict[tuple[str, int, int], tuple[str, str]] = {}

    def explain(self, name: str, query: Query) -> RuleMatch:
        _, hits = reference.explain(query.root, self.article, self._leaves)
        spans: dict[str, set[tuple[int, int]]] = {f: set() for f in FIELDS}
        for field_name, span in hits:
            spans[field_name].add(span)
        by_field: dict[str, list[str]] = {}
        for field_name in FIELDS:
            seen: set[str] = set()
            for start, end in sorted(spans[field_name]):
                key, surface = self._word(field_name, start, end)
                if key not in seen:
                    seen.add(key)
                    by_field.setdefault(field_name, []).append(surface)
        snippet_field = "text" if spans["text"] else "title"
        words = self.article.fields[snippet_field]
        ordered = sorted(spans[snippet_field])
        return RuleMatch(name, by_field, lambda: field_snippet(words, ordered))

    def _word(self, field_name: str, start: int, end: int) -> tuple[str, str]:
        """A hit's folded key (to keep each once) and its surface form, as written."""
        found = self._words.get((field_name, start, end))
        if found is None:
            words = self.article.fields[field_name]
            surface = words.text[words.matches[start].start() : words.matches[end].end()]
            found = (" ".join(words.folded[start : end + 1]), " ".join(surface.split()))
            self._words[(field_name, start, end)] = found
        return found


def explain(name: str, query: Query, article: reference.Article) -> RuleMatch:
    """Return the rule's hits per field (surface forms, in order, once each) and its snippet."""
    return ArticleExplainer(article).explain(name, query)


_WHITESPACE = re.compile(r"\s+")


def _clean(text: str) -> str:
    """`text` with each run of white space made one space (kept at the ends), ** made *."""
    text = text.replace("**", "*")
    if " " not in text and text.isprintable():  # one word, or nothing: the usual piece
        return text
    inner = " ".join(text.split())
    if not inner:
        return " " if text else ""
    return (" " if text[0].isspace() else "") + inner + (" " if text[-1].isspace() else "")


def field_snippet(words: reference.FieldWords, spans: Sequence[tuple[int, int]]) -> str:
    """`make_snippet` on the plain evaluator's words of a field."""
    matches = words.matches
    return make_snippet(words.text, [m.start() for m in matches], [m.end() for m in matches], spans)


def make_snippet(
    text: str, starts: Sequence[int], ends: Sequence[int], spans: Sequence[tuple[int, int]]
) -> str:
    """Return a few dozen words around the first span, each span inside wrapped in **…**
    (`starts` and `ends`: each word's offsets in `text`)."""
    count = len(starts)
    if not count:
        return _clean(text).strip()
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if merged:
        first = max(0, merged[0][0] - SNIPPET_BEFORE)
        last = min(count - 1, max(merged[0][1], merged[0][0] + SNIPPET_AFTER))
    else:
        first, last = 0, min(count, SNIPPET_BEFORE + SNIPPET_AFTER) - 1
    # Keep the punctuation that follows the last word (a full stop, a closing quote).
    stop = starts[last + 1] if last + 1 < count else len(text)
    pieces: list[str] = ["… " if first > 0 else ""]
    cursor = starts[first]
    for start, end in merged:
        if start < first or end > last:
            continue
        begin, finish = starts[start], ends[end]
        pieces.append(_clean(text[cursor:begin]))
        pieces.append("**" + _clean(text[begin:finish]) + "**")
        cursor = finish
    pieces.append(_clean(text[cursor:stop]).rstrip())
    if last < count - 1:
        pieces.append(" …")
    return "".join(pieces).strip()
