"""Per-term checks: how a rule's phrases, exact words and NEAR sides are looked for in an article.

Most words and prefixes need no check of their own: their keys (`alerts.rules.keys`) are in
the article's key sets or not. What the keys cannot decide is checked here, lazily, by the
generated rule functions (through `ScannedArticle.phrase`, `.exact` and `.near`):

- a phrase (`PhraseSpec`) with a prefix or an exact word, or any phrase where there is no C
  chunk table, is looked for in the folded text b" w1 w2 … " when that is cheap to build
  (the C table, or few chunks that change when folded), else first in the split bytes (one
  regex search led by its first word);
- an exact word (`WordSpec`) whose folded form only stands as an ASCII chunk of its own is
  looked for in the raw text, else among the field's exact words;
- a NEAR (`Positional`) compares the word positions of its sides (from the C chunk table for
  plain words, else from the field's word sequence).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from itertools import filterfalse
from typing import TYPE_CHECKING

from alerts.rules.keys import indexed_key, word_key
from alerts.rules.lexicon import _scan
from alerts.rules.text import chunk_words, encode, fold_exact, is_plain_word, word_places
from alerts.rules.tree import Near, Node, Or, Phrase, Word

if TYPE_CHECKING:
    from alerts.rules.scanned import ScannedArticle

# The fields a term may be scoped to, as bits: a check's mask says where it is looked for.
_TITLE, _TEXT = 1, 2
FIELD_MASK = {None: _TITLE | _TEXT, "title": _TITLE, "text": _TEXT}

# Phrases looked for in a field without its folded text; past that, the folded text is built.
PHRASE_SEARCHES = 4


# Any character but an ASCII letter or digit: what may stand next to a word that is a chunk
# of its own in the raw text.
_NOT_SEPARATOR = r"[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"


def _standalone(pattern: re.Pattern[str], text: str) -> bool:
    """True when `pattern` matches `text` right after an ASCII separator (or at the start)."""
    found = pattern.search(text)
    while found is not None:
        start = found.start()
        if start == 0 or (text[start - 1] < "\x80" and not text[start - 1].isalnum()):
            return True
        found = pattern.search(text, start + 1)
    return False


class WordSpec:
    """A word as the lazy checks see it: folded (or exact) key, maybe a prefix."""

    __slots__ = ("key", "folded", "prefix", "exact", "mask", "_pattern")

    def __init__(self, word: Word) -> None:
        self.key = encode(word.key)
        self.folded = word_key(word)
        self.prefix = word.prefix
        self.exact = word.exact
        self.mask = FIELD_MASK[word.field]
        self._pattern: re.Pattern[str] | None = None

    def pattern(self) -> re.Pattern[str] | None:
        """An exact ASCII word as a regex over the raw text (None for a non-ASCII word)."""
        if self._pattern is None and self.key.isascii():
            key = re.escape(self.key.decode())
            self._pattern = re.compile(key if self.prefix else f"{key}(?!{_NOT_SEPARATOR})")
        return self._pattern

    def present(self, article: ScannedArticle, f: int) -> bool:
        if not self.exact:
            return self.folded in article.words[f]
        if self.folded not in article.words[f]:
            return False  # the exact form folds to the folded one
        pattern = self.pattern()
        if pattern is not None and not article.dirty(f, self.folded):
            # Every word that folds like this one is then an ASCII chunk of its own in the
            # raw text, so the exact form is there as it is, between separators.
            return _standalone(pattern, article.scans[f].text)
        if not self.prefix and article.tables[f] is not None:
            return self._written(article, f)
        words = article.exact_words(f)
        if not self.prefix:
            return self.key in words
        key = self.key
        return any(w.startswith(key) for w in words)

    def _written(self, article: ScannedArticle, f: int) -> bool:
        """Whether one of the places the folded word occurs is the exact word as written (words
        equal exactly are equal folded): the C chunk table's offsets, no exact scan of the text."""
        offsets = article.offsets(f)
        if offsets is None:
            return self.key in article.exact_words(f)
        text, key = article.scans[f].text, self.key.decode()
        for index in word_places(article.joined(f), b" " + self.folded + b" "):
            if fold_exact(text[offsets[2 * index] : offsets[2 * index + 1]]) == key:
                return True
        return False

    def positions(self, article: ScannedArticle, f: int) -> list[int]:
        if not self.present(article, f):
            return []
        if not self.exact and not self.prefix:
            found = article.word_positions(f, self.key)
            if found is not None:
                return found
        if self.exact:
            seq = article.sequence(f, True)
            key = self.key
            if self.prefix:
                return [i for i, w in enumerate(seq) if w.startswith(key)]
            return [i for i, w in enumerate(seq) if w == key]
        return word_places(article.joined(f), b" " + self.key if self.prefix else b" " + self.key + b" ")


# Between two words of a phrase in an article's split bytes: spaces, and maybe chunks of
# non-ASCII bytes only (a dash, quotes), which must then turn out to have no words.
_GAP = rb"(?: +[\x80-\xff]+)* +"


class PhraseSpec:
    """A phrase: found in the split bytes when it can be, else on b" w1 w2 … " or word by word."""

    __slots__ = ("words", "needle", "mask", "keys", "plain", "_pattern", "indexed")

    def __init__(self, phrase: Phrase) -> None:
        self.words = [WordSpec(w) for w in phrase.words]
        self.indexed = indexed_key(phrase)  # found by the C chunk table, when there is one
        self.mask = FIELD_MASK[phrase.field]
        # Every word must be among the article's words (prefixes as b"key*", exact ones folded).
        self.keys = sorted({word_key(w) for w in phrase.words}, key=len, reverse=True)
        self.needle: bytes | None = None
        self._pattern: re.Pattern[bytes] | None = None
        # Words that are their own folded form can be looked for in the raw split bytes.
        self.plain = all(is_plain_word(w.key) for w in phrase.words)
        if not any(w.exact for w in phrase.words) and not any(w.prefix for w in phrase.words[:-1]):
            body = b" " + b" ".join(w.key for w in self.words)
            self.needle = body if phrase.words[-1].prefix else body + b" "

    def pattern(self) -> re.Pattern[bytes]:
        """The phrase as a regex over the padded split bytes (b" " + data + b" "); group n is
        the gap after word n."""
        if self._pattern is None:
            body = b"(" + _GAP + b")"
            body = b" " + body.join(re.escape(w.key) for w in self.words)
            self._pattern = re.compile(body if self.words[-1].prefix else body + b" ")
        return self._pattern

    def present(self, article: ScannedArticle, f: int) -> bool:
        words = article.words[f]
        if self.indexed is not None and article.tables[f] is not None:
            return self.indexed in words
        for key in self.keys:
            if key not in words:
                return False
        needle = self.needle
        if needle is None:
            return bool(self.starts(article, f))
        joined = article.built[f]
        if joined is not None:
            return needle in joined
        if article.tables[f] is not None or article.scans[f].cheap_joined():
            return needle in article.joined(f)
        searches = article.searches
        searches[f] += 1
        if searches[f] <= PHRASE_SEARCHES and self.plain and not any(article.dirty(f, k) for k in self.keys):
            # Each of the phrase's words occurs only as a chunk of its own that is exactly that
            # word, so the phrase can only be such chunks in a row with nothing but separators
            # and word-less chunks between them: one regex search of the split bytes (led by
            # the literal first word) finds the first such run. (Past a few phrases per field,
            # building the folded text once is the cheaper way.)
            found = self.pattern().search(article.padded(f))
            if found is None:
                return False
            for gap in found.groups():
                if not gap.isascii() and any(map(chunk_words, filterfalse(bytes.isascii, gap.split()))):
                    break  # a chunk between has words after all: decide on the folded text
            else:
                return True
        return needle in article.joined(f)

    def starts(self, article: ScannedArticle, f: int) -> list[int]:
        if self.indexed is not None and article.tables[f] is not None:
            # Word k of the phrase at position p + k, for each k: from the C table's positions.
            found: set[int] | None = None
            for k, word in enumerate(self.words):
                positions = article.word_positions(f, word.key)
                if positions is None:
                    break
                shifted = {p - k for p in positions}
                found = shifted if found is None else found & shifted
            else:
                return sorted(found or ())
        first, rest = self.words[0], self.words[1:]
        sequences = [article.sequence(f, w.exact) for w in rest]
        size = len(article.sequence(f, False))
        out = []
        for start in first.positions(article, f):
            if start + len(rest) >= size:
                break
            for k, (word, seq) in enumerate(zip(rest, sequences, strict=True)):
                token = seq[start + 1 + k]
                if not (token.startswith(word.key) if word.prefix else token == word.key):
                    break
            else:
                out.append(start)
        return out


class Positional:
    """Occurrence spans (first, last word index) of a NEAR side in one field."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.plain = False  # NEAR of two plain words: decided in C on the ids of the field's words
        if isinstance(node, Word):
            self.word = WordSpec(node)
        elif isinstance(node, Phrase):
            self.phrase = PhraseSpec(node)
            self.size = len(node.words)
        elif isinstance(node, Or):
            self.children = [Positional(c) for c in node.children]
        else:
            assert isinstance(node, Near)
            self.left, self.right = Positional(node.left), Positional(node.right)
            self.distance = node.distance
            sides = (node.left, node.right)
            self.plain = all(isinstance(w, Word) and not w.prefix and not w.exact for w in sides)

    def occurs(self, article: ScannedArticle, f: int) -> bool:
        """Whether this NEAR occurs in field `f` (`bool(spans)`, without the spans when it can)."""
        ids = article.ids[f]
        if ids is not None and self.plain:
            left, right, bit = self.left.word, self.right.word, 1 << f
            if not (left.mask & bit and right.mask & bit):
                return False
            words = article.words[f]
            if left.folded not in words or right.folded not in words:
                return False
            left_id, right_id = article.word_ids.get(left.key), article.word_ids.get(right.key)
            if left_id is not None and right_id is not None:
                return bool(_scan.near(ids, left_id, right_id, self.distance))
        return bool(self.spans(article, f))

    def spans(self, article: ScannedArticle, f: int) -> list[tuple[int, int]]:
        node = self.node
        bit = 1 << f
        if isinstance(node, Word):
            if not self.word.mask & bit:
                return []
            return [(i, i) for i in self.word.positions(article, f)]
        if isinstance(node, Phrase):
            if not self.phrase.mask & bit or not self.phrase.present(article, f):
                return []
            return [(i, i + self.size - 1) for i in self.phrase.starts(article, f)]
        if isinstance(node, Or):
            return sorted({s for child in self.children for s in child.spans(article, f)})
        left = self.left.spans(article, f)
        if not left:
            return []
        right = self.right.spans(article, f)  # sorted by start
        if not right:
            return []
        gap = self.distance
        starts = [b_start for b_start, _ in right]
        longest = max(b_end - b_start for b_start, b_end in right)
        out = set()
        for a_start, a_end in left:
            # Only right spans starting in this window can be near enough: look at those alone.
            low = bisect_left(starts, a_start - gap - 1 - longest)
            high = bisect_right(starts, a_end + gap + 1)
            for b_start, b_end in right[low:high]:
                if a_end < b_start:
                    if b_start - a_end - 1 <= gap:
                        out.add((a_start, b_end))
                elif b_end < a_start and a_start - b_end - 1 <= gap:
                    out.add((b_start, a_end))
        return sorted(out)
