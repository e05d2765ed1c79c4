"""The plain evaluator: the query language's semantics written as directly as possible.

It walks the query tree over the article's word lists (no indexes, no triggers, no caches).
The compiled matcher must agree with it on every query and text (a hypothesis property test
checks this), and explanations — which words hit where — come from here, because they are
only needed for the few rules that matched.

Occurrences are word-index spans `(start, end)` (inclusive) within one field; a NEAR
occurrence spans both sides, and remembers the leaf spans it was made of.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cached_property

from alerts.rules.text import fold, fold_exact, tokenize
from alerts.rules.tree import FIELDS, And, Near, Node, Not, Or, Phrase, Query, Word

Span = tuple[int, int]


@dataclass(frozen=True)
class Occurrence:
    start: int
    end: int
    parts: tuple[Span, ...]


class FieldWords:
    """One field's words: the matches (for positions in the text), folded and exact forms."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.matches = tokenize(text)

    @cached_property
    def folded(self) -> list[str]:
        return [fold(m.group()) for m in self.matches]

    @cached_property
    def exact(self) -> list[str]:
        return [fold_exact(m.group()) for m in self.matches]

    @cached_property
    def index(self) -> dict[str, list[int]]:
        """Where each folded word occurs."""
        return _positions(self.folded)

    @cached_property
    def exact_index(self) -> dict[str, list[int]]:
        """Where each exact (case-kept) word occurs."""
        return _positions(self.exact)

    def positions(self, word: Word) -> list[int]:
        """Return the positions of the words `word` matches, in order."""
        index = self.exact_index if word.exact else self.index
        if not word.prefix:
            return index.get(word.key, [])
        cache = self._prefix_positions
        found = cache.get((word.exact, word.key))
        if found is None:
            keys = self.exact_keys if word.exact else self.keys
            # The keys starting with the prefix are one run of the sorted keys.
            low = bisect_left(keys, word.key)
            high = low
            while high < len(keys) and keys[high].startswith(word.key):
                high += 1
            found = cache[(word.exact, word.key)] = sorted(i for key in keys[low:high] for i in index[key])
        return found

    @cached_property
    def keys(self) -> list[str]:
        return sorted(self.index)

    @cached_property
    def exact_keys(self) -> list[str]:
        return sorted(self.exact_index)

    @cached_property
    def _prefix_positions(self) -> dict[tuple[bool, str], list[int]]:
        return {}


def _positions(words: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for position, word in enumerate(words):
        found.setdefault(word, []).append(position)
    return found


class Article:
    """Title and body as word lists, built once and shared by every rule evaluated on them."""

    def __init__(self, title: str, text: str) -> None:
        self.fields = {"title": FieldWords(title or ""), "text": FieldWords(text or "")}


def word_matches(word: Word, words: FieldWords, index: int) -> bool:
    token = (words.exact if word.exact else words.folded)[index]
    return token.startswith(word.key) if word.prefix else token == word.key


def occurrences(node: Node, article: Article, field: str) -> list[Occurrence]:
    """Return where a positional node (word, phrase, NEAR, OR of those) occurs in `field`."""
    words = article.fields[field]
    count = len(words.matches)
    if isinstance(node, Word):
        if node.field not in (None, field):
            return []
        return [Occurrence(i, i, ((i, i),)) for i in words.positions(node)]
    if isinstance(node, Phrase):
        if node.field not in (None, field):
            return []
        size = len(node.words)
        found = []
        for i in words.positions(node.words[0]):
            if i + size <= count and all(word_matches(w, words, i + k) for k, w in enumerate(node.words)):
                found.append(Occurrence(i, i + size - 1, ((i, i + size - 1),)))
        return found
    if isinstance(node, Or):
        merged = [o for child in node.children for o in occurrences(child, article, field)]
        return sorted(set(merged), key=lambda o: (o.start, o.end))
    if isinstance(node, Near):
        found = []
        right = occurrences(node.right, article, field)  # sorted by start
        starts = [b.start for b in right]
        longest = max((b.end - b.start for b in right), default=0)
        for a in occurrences(node.left, article, field):
            # Right occurrences starting outside this window are too far away to be near.
            low = bisect_left(starts, a.start - node.distance - 1 - longest)
            high = bisect_right(starts, a.end + node.distance + 1)
            for b in right[low:high]:
                first, second = (a, b) if a.end < b.start else (b, a)
                if first.end < second.start and second.start - first.end - 1 <= node.distance:
                    found.append(Occurrence(first.start, second.end, first.parts + second.parts))
        return sorted(set(found), key=lambda o: (o.start, o.end))
    raise TypeError(f"not a positional node: {node!r}")


Hits = list[tuple[str, Span]]


def explain(node: Node, article: Article, leaves: dict[Node, Hits] | None = None) -> tuple[bool, Hits]:
    """Return whether `node` is true, and the (field, span) of every hit that made it true.

    `leaves` memoises the hits of words, phrases and NEARs (trees are immutable and compare by
    value), so the rules that share them on one article find each only once."""
    if isinstance(node, Word | Phrase | Near):
        hits = leaves.get(node) if leaves is not None else None
        if hits is None:
            hits = [(f, part) for f in FIELDS for o in occurrences(node, article, f) for part in o.parts]
            if leaves is not None:
                leaves[node] = hits
        return bool(hits), hits
    if isinstance(node, Not):
        value, _ = explain(node.child, article, leaves)
        return not value, []
    results = [explain(child, article, leaves) for child in node.children]
    if isinstance(node, And):
        if all(value for value, _ in results):
            return True, [hit for _, hits in results for hit in hits]
        return False, []
    assert isinstance(node, Or)
    true = [hits for value, hits in results if value]
    return bool(true), [hit for hits in true for hit in hits]


def evaluate(query: Query | Node, title: str, text: str) -> bool:
    """Return whether the query matches an article with this title and body text."""
    root = query.root if isinstance(query, Query) else query
    return explain(root, Article(title, text))[0]
