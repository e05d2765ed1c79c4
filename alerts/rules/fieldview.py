"""One field of one article as explanations read it: its folded words, their offsets in the
text, each word's first position and (once many rules ask) every position, and where a word,
phrase or NEAR occurs in it — the reference evaluator's `occurrences`, on the matcher's words.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence

from alerts.rules.text import encode, fold, fold_exact, tokenize, word_places
from alerts.rules.tree import Near, Node, Or, Phrase, Word

Span = tuple[int, int]
First = tuple[
    int, int, bytes | None
]  # (start, end, folded form or None) of a distinct form's first occurrence


# Scanning the field for one word costs about what indexing all its words costs over this many
# scans (news articles of a few thousand characters).
_SCANS_BEFORE_INDEX = 8


class FieldView:
    """One field of one article: its folded words, their offsets in the text, first positions."""

    __slots__ = ("text", "_words", "joined", "_offsets", "_offsets_of", "_first", "_sorted", "_exact_of",
                 "_exact", "_exact_index", "_exact_sorted", "_index", "_lookups", "_starts_ends")  # fmt: skip

    def __init__(
        self,
        text: str,
        joined: bytes,
        offsets_of: Callable[[], Sequence[int] | None],
        exact_of: Callable[[], list[bytes]],
        offsets: Sequence[int] | None = None,
    ) -> None:
        """`offsets`, when the caller has them already (the C chunk table's `view`)."""
        self.text = text
        self.joined = joined  # b" w1 w2 … wn "
        self._words: list[bytes] | None = None
        self._offsets_of = offsets_of
        self._offsets: Sequence[int] | None = offsets
        self._first: dict[bytes, int] | None = None
        self._sorted: list[bytes] | None = None
        self._exact_of = exact_of
        self._exact: list[bytes] | None = None
        self._exact_index: dict[bytes, list[int]] | None = None
        self._exact_sorted: list[bytes] | None = None
        self._index: dict[bytes, list[int]] | None = None
        self._lookups = 0
        self._starts_ends: tuple[Sequence[int], Sequence[int]] | None = None

    @property
    def words(self) -> list[bytes]:
        """The folded words, in order."""
        if self._words is None:
            self._words = self.joined.split()
        return self._words

    @property
    def offsets(self) -> Sequence[int]:
        """Start and end (characters) of each word in the text, flat: s0, e0, s1, e1, …"""
        if self._offsets is None:
            found = self._offsets_of()
            if found is None:
                found = [i for m in tokenize(self.text) for i in m.span()]
            self._offsets = found
        return self._offsets

    @property
    def first(self) -> dict[bytes, int]:
        """Each distinct word -> its first position."""
        if self._first is None:
            words = self.words
            self._first = dict(zip(reversed(words), range(len(words) - 1, -1, -1), strict=True))
        return self._first

    def sorted_words(self) -> list[bytes]:
        """The distinct folded words, sorted (what prefixes are looked for in)."""
        if self._sorted is None:
            self._sorted = sorted(self.first)
        return self._sorted

    def starting(self, prefix: bytes, exact: bool = False) -> list[bytes]:
        """The distinct (folded, or exact) words that start with `prefix`."""
        if exact:
            if self._exact_sorted is None:
                self._exact_sorted = sorted(self.exact_index)
            ordered = self._exact_sorted
        else:
            ordered = self.sorted_words()
        low = bisect_left(ordered, prefix)
        high = bisect_right(ordered, prefix + b"\xff", low)
        return [w for w in ordered[low:high] if w.startswith(prefix)]

    @property
    def starts_ends(self) -> tuple[Sequence[int], Sequence[int]]:
        """The words' start offsets and end offsets, apart (what a snippet reads)."""
        if self._starts_ends is None:
            offsets = self.offsets
            self._starts_ends = (offsets[0::2], offsets[1::2])
        return self._starts_ends

    def positions(self, word: bytes) -> list[int]:
        """Every position of a folded word (a list the caller must not change). The first few
        are found in b" w1 … " at C speed, spaces counted; when many rules on one article ask,
        an index of every word's positions, built once, answers the rest."""
        if self._index is not None:
            return self._index.get(word, [])
        self._lookups += 1
        if self._lookups > _SCANS_BEFORE_INDEX:
            index: dict[bytes, list[int]] = {}
            for position, each in enumerate(self.words):
                index.setdefault(each, []).append(position)
            self._index = index
            return index.get(word, [])
        return word_places(self.joined, b" " + word + b" ")

    @property
    def exact_index(self) -> dict[bytes, list[int]]:
        """Each distinct exact-case word -> its positions."""
        if self._exact_index is None:
            self._exact = self._exact_of()
            index: dict[bytes, list[int]] = {}
            for position, word in enumerate(self._exact):
                index.setdefault(word, []).append(position)
            self._exact_index = index
        return self._exact_index

    def exact_word(self, position: int) -> bytes:
        if self._exact is None:
            self.exact_index  # noqa: B018 - builds the exact words
        return self._exact[position]  # type: ignore[index]

    def surface(self, start: int, end: int) -> str:
        """The words start..end as written, white space between them made one space."""
        offsets = self.offsets
        if start == end:  # a word has no white space in it
            return self.text[offsets[2 * start] : offsets[2 * start + 1]]
        return " ".join(self.text[offsets[2 * start] : offsets[2 * end + 1]].split())

    def form(self, start: int, end: int) -> bytes:
        return self.words[start] if start == end else b" ".join(self.words[start : end + 1])


def _word_positions(word: Word, view: FieldView) -> list[int]:
    key = encode(word.key)
    if word.exact and not word.prefix:
        # Words equal exactly are equal folded (`alerts.rules.text.fold`): of the folded word's
        # positions, those whose word as written is the exact one (no index of every word).
        offsets, text = view.offsets, view.text
        candidates = view.positions(encode(fold(word.key)))
        return [p for p in candidates if fold_exact(text[offsets[2 * p] : offsets[2 * p + 1]]) == word.key]
    if word.exact:
        index = view.exact_index
        return sorted(p for w in view.starting(key, exact=True) for p in index[w])
    if not word.prefix:
        return view.positions(key)
    return sorted(p for w in view.starting(key) for p in view.positions(w))


def _word_at(word: Word, view: FieldView, position: int) -> bool:
    token = view.exact_word(position) if word.exact else view.words[position]
    key = encode(word.key)
    return token.startswith(key) if word.prefix else token == key


Occurrence = tuple[int, int, tuple[Span, ...]]


def occurrences(node: Node, view: FieldView, field: str) -> list[Occurrence]:
    """Where a positional node occurs in one field, with the spans of its parts: the reference's
    `occurrences` on the matcher's words."""
    if isinstance(node, Word):
        if node.field not in (None, field):
            return []
        return [(i, i, ((i, i),)) for i in _word_positions(node, view)]
    if isinstance(node, Phrase):
        if node.field not in (None, field):
            return []
        size, count = len(node.words), len(view.words)
        found = []
        for i in _word_positions(node.words[0], view):
            if i + size <= count and all(_word_at(w, view, i + k) for k, w in enumerate(node.words[1:], 1)):
                found.append((i, i + size - 1, ((i, i + size - 1),)))
        return found
    if isinstance(node, Or):
        merged = {o for child in node.children for o in occurrences(child, view, field)}
        return sorted(merged, key=lambda o: (o[0], o[1]))
    assert isinstance(node, Near)
    right = occurrences(node.right, view, field)
    starts = [b[0] for b in right]
    longest = max((b[1] - b[0] for b in right), default=0)
    near: set[Occurrence] = set()
    for a in occurrences(node.left, view, field) if right else ():
        low = bisect_left(starts, a[0] - node.distance - 1 - longest)
        high = bisect_right(starts, a[1] + node.distance + 1)
        for b in right[low:high]:
            first, second = (a, b) if a[1] < b[0] else (b, a)
            if first[1] < second[0] and second[0] - first[1] - 1 <= node.distance:
                near.add((first[0], second[1], first[2] + second[2]))
    return sorted(near, key=lambda o: (o[0], o[1]))


def firsts_of(spans: list[Span], view: FieldView) -> list[First]:
    """The first occurrence of each distinct folded form among `spans` (sorted)."""
    seen: set[bytes] = set()
    out = []
    for start, end in spans:
        form = view.form(start, end)
        if form not in seen:
            seen.add(form)
            out.append((start, end, form))
    return out
