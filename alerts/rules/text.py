"""Words of an article as the query language sees them.

The contract (README "Query language"):

- A **word** is a run of letters and digits of any script (Latin, Cyrillic, Greek, CJK runs…);
  combining marks and invisible joiners (soft hyphen U+00AD, ZWJ/ZWNJ, word joiner, BOM)
  inside a word belong to it. Everything else separates words: spaces, line breaks,
  punctuation, hyphens and dashes, apostrophes (`Roscosmos’s` → `Roscosmos` + `s`, also the
  modifier-letter apostrophes ʻ ʼ ʽ), underscores, symbols.
- Words are compared **folded**: compatibility-decomposed (NFKD), case-folded, with combining
  marks (accents), joiners and spaces removed. So `Baïkonur` = `Baikonur`, `РОСКОСМОС` =
  `Роскосмос`, `ё` = `е`, `й` = `и`, `Straße` = `STRASSE`, `ﬁnal` = `final`, `x²` = `x2`.
- `=Word` compares **exact**: the same decomposition and accent removal, but case kept.

`fold()` / `fold_exact()` define the semantics token by token. `ScannedText` is the fast
path the matcher uses on whole articles (C-level split of the UTF-8 bytes, with a cache for
the few chunks that need the full Unicode treatment); a property test checks it gives exactly
the tokens `tokenize()` + `fold()` give.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from itertools import filterfalse

try:  # the optional C chunk table module (setup.py) also finds words' places
    from alerts.rules import _scan
except ImportError:  # pragma: no cover - depends on the machine that installed newswatch
    _scan = None  # type: ignore[assignment]

# Invisible characters that may sit inside a word without splitting it.
JOINERS = "\u00ad\u200c\u200d\u2060\ufeff"
# Letters that look like apostrophes: they separate words like ' and ’ do.
APOSTROPHE_LETTERS = "\u02bb\u02bc\u02bd"


def _mark_ranges() -> str:
    """Return a regex class body of every combining mark (Mn, Mc, Me) in the BMP."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x300, 0x10000):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    ranges.append((0xE0100, 0xE01EF))  # variation selectors supplement
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges
    )


_MARKS = _mark_ranges()
_LETTER = rf"[^\W_{APOSTROPHE_LETTERS}]"
# A word starts with a letter or digit; marks and joiners continue it.
TOKEN_RE = re.compile(rf"{_LETTER}+(?:[{_MARKS}{JOINERS}]+{_LETTER}*)*")
_DROP_CATEGORIES = frozenset({"Mn", "Me", "Cf", "Zs", "Zl", "Zp", "Cc"})


def tokenize(text: str) -> list[re.Match[str]]:
    """Return the words of `text` as regex matches (`.group()`, `.start()`, `.end()`)."""
    return list(TOKEN_RE.finditer(text))


class _DropTable(dict[int, int | None]):
    """Code point -> itself, or None for a character `fold` drops (filled in as met, so at
    most one entry per code point; never cleared)."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.category(chr(code)) in _DROP_CATEGORIES else code
        self[code] = kept  # the same value whichever thread writes it
        return kept


_DROP_TABLE = _DropTable()


def _strip(text: str) -> str:
    """Return `text` without the characters of `_DROP_CATEGORIES` (a C-level translate)."""
    return text.translate(_DROP_TABLE)


def fold_exact(token: str) -> str:
    """Return the accent-insensitive, case-keeping form of one word (for `=Word`)."""
    if token.isascii():
        return token
    return _strip(unicodedata.normalize("NFKD", token)) or token


def fold(token: str) -> str:
    """Return the case- and accent-insensitive form of one word.

    Defined on top of `fold_exact` so that words equal under `=Word` are equal here too."""
    if token.isascii():
        return token.lower()
    return _strip(unicodedata.normalize("NFKD", fold_exact(token).casefold())) or token.casefold()


def query_words(text: str) -> list[str]:
    """Return the folded words of `text` as the query language sees them, in order (the plain
    definition the fast paths are checked against)."""
    return [fold(m.group()) for m in TOKEN_RE.finditer(text)]


def exact_words(text: str) -> list[str]:
    """Return the exact-case (accent-free) words of `text`, in order."""
    return [fold_exact(m.group()) for m in TOKEN_RE.finditer(text)]


# ---------------------------------------------------------------------------- fast path

# ASCII bytes: letters and digits stay (lower-cased for the folded view), every other ASCII
# byte becomes a space; bytes >= 0x80 (UTF-8 sequences) stay for the chunk cache to handle.
_FOLD_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c) if (c >= 128 or chr(c).isalnum()) else 32 for c in range(256)
)
_EXACT_TABLE = bytes(c if (c >= 128 or chr(c).isalnum()) else 32 for c in range(256))
_CACHE_LIMIT = 200_000
_FEW_CHANGES = 12  # up to this many distinct changing chunks, `joined()` replaces them one by one
# The non-ASCII separators news text is full of (curly quotes and apostrophes, dashes, the
# ellipsis, no-break space): replaced by a space before the split (a C-level replace of one
# character by another), so that most English articles become plain ASCII bytes and take
# the fast path throughout. Only separators are listed: replacing one by a space changes no word.
_COMMON_SEPARATORS = "\u2019\u201c\u201d\u2014\u2013\u2018\u00a0\u2026"


class _ChunkCache:
    """Non-ASCII chunk -> its words, and -> those words joined by spaces."""

    __slots__ = ("exact", "words", "joined")

    def __init__(self, exact: bool) -> None:
        self.exact = exact
        self.words: dict[bytes, tuple[bytes, ...]] = {}
        self.joined: dict[bytes, bytes] = {}

    def add(self, chunks: set[bytes]) -> None:
        """Make sure every chunk of `chunks` is known (the loop runs only over new ones)."""
        convert = fold_exact if self.exact else fold
        for chunk in chunks.difference(self.words):
            text = chunk.decode("utf-8", "surrogatepass")
            found = tuple(convert(m.group()).encode() for m in TOKEN_RE.finditer(text))
            self.joined[chunk] = b" ".join(found)  # before `words`: a chunk in `words` is complete
            self.words[chunk] = found


# [folded, exact]. A full cache is replaced, never cleared: a text being scanned (in another
# thread, say) keeps the one it started with.
_caches = [_ChunkCache(False), _ChunkCache(True)]


def _chunk_cache(exact: bool) -> _ChunkCache:
    """Return the folded (or exact) chunk cache, replaced by an empty one when full."""
    cache = _caches[exact]
    if len(cache.words) > _CACHE_LIMIT:
        cache = _caches[exact] = _ChunkCache(exact)
    return cache


def chunk_words(chunk: bytes, exact: bool = False) -> tuple[bytes, ...]:
    """Return the folded (or exact) words of one chunk that has non-ASCII bytes (cached)."""
    cache = _chunk_cache(exact)
    cache.add({chunk})
    return cache.words[chunk]


def chunk_parts(chunk: bytes) -> tuple[tuple[bytes, ...], list[int] | None]:
    """Return the folded words of a chunk with non-ASCII bytes (as `chunk_words`) and the start
    and end of each in characters (s0, e0, s1, e1, …; None when the chunk is one word and nothing
    else, for the C chunk table's `offsets`), from one pass of the word regex."""
    text = chunk.decode("utf-8", "surrogatepass")
    matches = list(TOKEN_RE.finditer(text))
    words = tuple(fold(m.group()).encode() for m in matches)
    spans = [i for m in matches for i in m.span()]
    return words, None if spans == [0, len(text)] else spans


class ScannedText:
    """One text split at ASCII separators: the matcher's fast view of a title or body.

    Most chunks are plain ASCII letters and digits, already the folded word; only chunks with
    non-ASCII bytes (accents, Cyrillic, curly quotes, dashes…) go through `chunk_words`.
    Everything past the split is computed only when asked for."""

    __slots__ = (
        "text", "data", "exact", "_chunks", "_tokens", "_dirty", "_changes", "_sequence", "_joined", "_words",
    )  # fmt: skip

    def __init__(self, text: str, exact: bool = False) -> None:
        if not text.isascii():
            for separator in _COMMON_SEPARATORS:
                if separator in text:
                    text = text.replace(separator, " ")
        self.text = text
        data = text.encode("utf-8", "surrogatepass").translate(_EXACT_TABLE if exact else _FOLD_TABLE)
        self.data = data
        self._chunks: list[bytes] | None = None
        self.exact = exact
        self._tokens: set[bytes] | None = None
        self._dirty: set[bytes] | None = None
        self._changes: dict[bytes, bytes] | None = None
        self._sequence: list[bytes] | None = None
        self._joined: bytes | None = None
        self._words: set[bytes] | None = None

    @property
    def chunks(self) -> list[bytes]:
        """The chunks in order (split only when asked for: the C scan reads `data` itself)."""
        if self._chunks is None:
            self._chunks = self.data.split()
        return self._chunks

    @property
    def tokens(self) -> set[bytes]:
        """The distinct chunks."""
        if self._tokens is None:
            self._tokens = set(self.chunks)
        return self._tokens

    @property
    def dirty(self) -> set[bytes]:
        """The distinct chunks with non-ASCII bytes."""
        if self._dirty is None:
            self._dirty = set(filterfalse(bytes.isascii, self.tokens)) if not self.data.isascii() else set()
        return self._dirty

    def changes(self) -> dict[bytes, bytes]:
        """Return {chunk: its words joined by spaces} for the chunks that are not exactly one
        word equal to themselves (accents, upper-case non-ASCII, curly quotes, dashes…)."""
        if self._changes is None:
            dirty = self.dirty
            if not dirty:
                self._changes = {}
            else:
                cache = _chunk_cache(self.exact)
                cache.add(dirty)
                joined = cache.joined
                self._changes = {chunk: joined[chunk] for chunk in dirty if joined[chunk] != chunk}
        return self._changes

    def words(self) -> set[bytes]:
        """Return every distinct word (computed once)."""
        if self._words is None:
            changes = self.changes()
            if not changes:
                self._words = set(self.tokens)
            else:
                self._words = (self.tokens - changes.keys()).union(*map(bytes.split, changes.values()))
        return self._words

    def sequence(self) -> list[bytes]:
        """Return the words in order."""
        if self._sequence is None:
            self._sequence = self.joined()[1:-1].split() if self.changes() else self.chunks
        return self._sequence

    def cheap_joined(self) -> bool:
        """True when `joined()` costs little more than joining the chunks (few changing chunks)."""
        return self._joined is not None or len(self.changes()) <= _FEW_CHANGES

    def joined(self) -> bytes:
        """Return b" w1 w2 … wn " (phrases are substrings of it)."""
        if self._joined is None:
            changes = self.changes()
            chunks: Iterable[bytes] = self.chunks
            if len(changes) <= _FEW_CHANGES:
                # The chunks joined, then each changing one replaced by its words (a dash: by
                # nothing). A chunk right after a copy of itself shares a space with it and is
                # left by one pass: hence the loop.
                joined = b" " + b" ".join(chunks) + b" "
                for chunk, replacement in changes.items():
                    old = b" " + chunk + b" "
                    new = b" " + replacement + b" " if replacement else b" "
                    while old in joined:
                        joined = joined.replace(old, new)
                self._joined = joined if joined != b" " else b"  "  # no words: as below
            else:
                # Each changing chunk becomes its words (a dash: nothing), all at C speed.
                chunks = filter(None, map(changes.get, chunks, chunks))
                self._joined = b" " + b" ".join(chunks) + b" "
        return self._joined


def word_places(joined: bytes, needle: bytes) -> list[int]:
    """The indexes of the words of b" w0 w1 … " at which `needle` (b" word " for a word,
    b" prefix" for the words it starts) occurs: found at C speed and the spaces before counted
    (in one C call with `alerts.rules._scan`: a rule's word can be in an article many times)."""
    if _scan is not None:
        return _scan.word_places(joined, needle)  # type: ignore[no-any-return]
    out = []
    index = last = 0
    at = joined.find(needle)
    while at >= 0:
        index += joined.count(b" ", last, at)
        out.append(index)
        last = at
        at = joined.find(needle, at + 1)
    return out


def is_plain_word(word: str) -> bool:
    """True when `word` is one token that folds to itself (safe to compare with raw chunks)."""
    match = TOKEN_RE.fullmatch(word)
    return match is not None and fold(word) == word


def word_sequence(text: str, exact: bool = False) -> list[bytes]:
    """Return the folded (or exact) words of `text` in order, as UTF-8 bytes."""
    return ScannedText(text, exact).sequence()


def encode(word: str) -> bytes:
    return word.encode("utf-8", "surrogatepass")
