"""Explanations of a match: which words made a rule true where, and a highlighted snippet.

They come from the plain evaluator in `alerts.rules.reference`, run only for the rules the
compiled matcher found (`CompiledRules.match`), and for the archive search's results: the
compiled matcher decides, the plain evaluator explains. On one article, the rules share the
work (`ArticleExplainer`): each word, phrase or NEAR is looked up once however many rules hold
it, and a snippet is made only when it is read.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Sequence

from alerts.rules import reference
from alerts.rules.tree import FIELDS, Node, Phrase, Query, Word

Span = tuple[int, int]

SNIPPET_BEFORE = 12  # words shown before the first hit
SNIPPET_AFTER = 24  # words shown after it


class RuleMatch:
    """One rule that matched one article: what hit where (`hits`: per field, the words as
    written, in order, each once) and a highlighted snippet, made when first asked for."""

    __slots__ = ("_snippet", "_snippet_of", "hits", "rule")

    def __init__(self, rule: str, hits: dict[str, list[str]], snippet: str | Callable[[], str]) -> None:
        self.rule, self.hits = rule, hits
        self._snippet: str | None = snippet if isinstance(snippet, str) else None
        self._snippet_of = None if isinstance(snippet, str) else snippet

    @property
    def snippet(self) -> str:
        if self._snippet is None:
            self._snippet = self._snippet_of()
        return self._snippet

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuleMatch):
            return NotImplemented
        return (self.rule, self.hits, self.snippet) == (other.rule, other.hits, other.snippet)

    def __repr__(self) -> str:
        return f"RuleMatch(rule={self.rule!r}, hits={self.hits!r}, snippet={self.snippet!r})"


class _Leaf:
    """One word, phrase or NEAR on one article: its spans per field (sorted, once each), and
    per field the first span of each distinct hit (by folded words), in order."""

    __slots__ = ("firsts", "occurs", "spans")

    def __init__(self, spans: dict[str, list[Span]], firsts: dict[str, dict[str, Span]]) -> None:
        self.spans, self.firsts = spans, firsts
        self.occurs = any(spans.values())


class ArticleExplainer:
    """Explains rules on one article, sharing what rules have in common: each word, phrase or
    NEAR is looked up once, with the first occurrence of each of its distinct hits, so a rule's
    explanation costs what its distinct hits cost, not what their occurrences do (a word
    10,000 times in a long page); the snippet walks the rule's spans only up to its window."""

    def __init__(self, article: reference.Article) -> None:
        self.article = article
        self._leaves: dict[Node, _Leaf] = {}
        self._by_id: dict[int, _Leaf] = {}  # the same node again (hashing a tree costs more)
        self._surfaces: dict[tuple[str, Span], str] = {}

    def explain(self, name: str, query: Query) -> RuleMatch:
        _, leaves = reference.true_leaves(query.root, lambda node: self._leaf(node).occurs)
        found = [self._by_id[id(leaf)] for leaf in leaves]
        by_field: dict[str, list[str]] = {}
        for field_name in FIELDS:
            first: dict[str, Span] = {}
            for leaf in found:
                for key, span in leaf.firsts[field_name].items():
                    if key not in first or span < first[key]:
                        first[key] = span
            if first:
                by_field[field_name] = [self._surface(field_name, span) for span in sorted(first.values())]
        snippet_field = "text" if any(leaf.spans["text"] for leaf in found) else "title"
        words = self.article.fields[snippet_field]
        spans = [leaf.spans[snippet_field] for leaf in found]
        return RuleMatch(name, by_field, lambda: make_snippet(words, _window_spans(words, spans)))

    def _leaf(self, node: Node) -> _Leaf:
        leaf = self._by_id.get(id(node))
        if leaf is None:
            leaf = self._by_id[id(node)] = self._leaf_by_value(node)
        return leaf

    def _leaf_by_value(self, node: Node) -> _Leaf:
        leaf = self._leaves.get(node)
        if leaf is None:
            spans = {f: self._spans(node, f) for f in FIELDS}
            one_key = _one_key(node)
            firsts: dict[str, dict[str, Span]] = {}
            for field_name, ordered in spans.items():
                if not ordered or one_key:  # every hit is the same words: the first one is kept
                    firsts[field_name] = {self._key(field_name, ordered[0]): ordered[0]} if ordered else {}
                    continue
                keys: dict[str, Span] = {}
                for span in ordered:
                    keys.setdefault(self._key(field_name, span), span)
                firsts[field_name] = keys
            leaf = self._leaves[node] = _Leaf(spans, firsts)
        return leaf

    def _spans(self, node: Node, field_name: str) -> list[Span]:
        """The node's spans in the field, sorted, once each (a word's come sorted already)."""
        if isinstance(node, Word):
            if node.field not in (None, field_name):
                return []
            return [(i, i) for i in self.article.fields[field_name].positions(node)]
        return sorted(
            {part for o in reference.occurrences(node, self.article, field_name) for part in o.parts}
        )

    def _key(self, field_name: str, span: Span) -> str:
        folded = self.article.fields[field_name].folded
        start, end = span
        return folded[start] if start == end else " ".join(folded[start : end + 1])

    def _surface(self, field_name: str, span: Span) -> str:
        found = self._surfaces.get((field_name, span))
        if found is None:
            words = self.article.fields[field_name]
            surface = words.text[words.matches[span[0]].start() : words.matches[span[1]].end()]
            found = self._surfaces[(field_name, span)] = " ".join(surface.split())
        return found


def _one_key(node: Node) -> bool:
    """Whether every hit of the node is the same folded words (no prefix, no exact case: a
    hit's folded form is then the query's)."""
    if isinstance(node, Word):
        return not node.prefix and not node.exact
    if isinstance(node, Phrase):
        return all(not w.prefix and not w.exact for w in node.words)
    return False


def _window_spans(words: reference.FieldWords, spans: list[list[Span]]) -> list[Span]:
    """The rule's spans in order, once each, up to the last one that can reach the snippet's
    window (make_snippet merges overlapping spans from the first one, then shows what falls in
    its window): the rest cannot change the snippet."""
    taken: list[Span] = []
    chain_end = last = -1
    for span in heapq.merge(*spans):
        if taken and span == taken[-1]:
            continue
        if not taken:
            chain_end = span[1]
        elif last < 0 and span[0] <= chain_end:
            chain_end = max(chain_end, span[1])
        else:
            if last < 0:
                last = min(len(words.matches) - 1, max(chain_end, taken[0][0] + SNIPPET_AFTER))
            if span[0] > last:
                break
        taken.append(span)
    return taken


def explain(name: str, query: Query, article: reference.Article) -> RuleMatch:
    """Return the rule's hits per field (surface forms, in order, once each) and its snippet."""
    return ArticleExplainer(article).explain(name, query)


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
