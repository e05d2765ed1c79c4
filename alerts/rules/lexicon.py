"""The lexicon: chunk of an article -> the rule keys its folded words hit, kept across articles.

Title and body are each turned into bytes split at ASCII separators
(`alerts.rules.text.ScannedText`: the common non-ASCII separators, ’ “ ” — – … and the no-break
space, become spaces first, so most English text is plain ASCII). The lexicon maps each chunk
to the rule keys its folded words hit (words, and `b"prefix*"` for prefixes); only chunks never
seen before are folded and tried against the prefixes, in Python. News repeats its vocabulary,
so that is a handful of chunks per article.

The lexicon lives in the C chunk table of `alerts.rules._scan` (setup.py builds it; optional):
one pass over the bytes hashes and probes each chunk in place and returns the article's keys,
and follows the article's words through a trie of every phrase of two or more plain words, so
such a phrase is a key like a word (b"space station"); the keys come as ids in a bit set
(`_scan.KeySet`, `alerts.rules.keys.key_id`). The same pass gives the ids of the article's words
(whose places are the positions of NEAR words) and, when asked (`keys(scan, view=True)`), the
field's view for its explanations: the folded text b" w1 w2 … ", the words' offsets and where
each key first occurs (else the table's `view` gives it in a pass of its own). Where the module
was not compiled (or NEWSWATCH_PURE_PYTHON=1), the lexicon is a dict over the distinct chunks;
the tests run both. `compile_rules` reads `USE_C_SCAN` and `_scan` from this module each time it
compiles.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from itertools import compress, repeat
from operator import is_
from typing import Any

from alerts.rules.keys import canonical
from alerts.rules.text import ScannedText, chunk_parts

try:  # the optional C chunk table (setup.py); without it the lexicon is a dict
    from alerts.rules import _scan
except ImportError:  # pragma: no cover - depends on the machine that installed newswatch
    _scan = None  # type: ignore[assignment]

# Whether rule sets compiled from now on use the C chunk table (when it was compiled):
# NEWSWATCH_PURE_PYTHON=1 turns it off, the tests run both.
USE_C_SCAN = os.environ.get("NEWSWATCH_PURE_PYTHON", "") in ("", "0")

_NO_KEYS: frozenset[bytes] = frozenset()
LEXICON_LIMIT = 100_000  # distinct chunks remembered per compiled rule set (~15 MiB at most)


class LexiconState:
    """What a lexicon has learned; replaced as a whole when full, never cleared in place (a
    scan running in another thread keeps the state it started with).

    `changing`: key -> the chunks giving it that are not exactly their one folded word
    (`Roscosmos’s`, `Café`), which phrases and exact words cannot be looked for in the split
    bytes. Then either `table` (the C chunk table: chunk -> index into `values`, -1 for no
    keys, and its words as phrase-word ids; and the trie of the phrases) or `known` (a dict:
    chunk -> its keys, empty for none)."""

    __slots__ = ("known", "changing", "table", "values", "value_index", "preset")

    def __init__(self, phrases: dict[tuple[int, ...], bytes] | None) -> None:
        self.known: dict[bytes, frozenset[bytes]] = {}
        self.changing: dict[bytes, frozenset[bytes]] = {}
        self.values: list[bytes | frozenset[bytes]] = []
        self.value_index: dict[frozenset[bytes], int] = {}
        self.table = None if phrases is None else _scan.ChunkTable(self.values)
        self.preset = 0  # chunks entered before any article (they do not count against the limit)
        for ids, key in (phrases or {}).items():
            self.table.add_phrase(ids, self._index(frozenset({key})))

    def __len__(self) -> int:
        return len(self.known) if self.table is None else len(self.table)

    def _index(self, keys: frozenset[bytes]) -> int:
        """The index of `keys` in `values`, where one key is kept as itself (the C scan adds
        it to the article's keys without a set union)."""
        index = self.value_index.get(keys, -1)
        if index < 0:
            index = len(self.values)
            self.values.append(next(iter(keys)) if len(keys) == 1 else keys)  # before the table refers to it
            self.value_index[keys] = index
        return index

    def keys_of(self, chunk: bytes) -> frozenset[bytes] | None:
        """The keys learned for `chunk` (None: not learned)."""
        if self.table is None:
            return self.known.get(chunk)
        index = self.table.get(chunk)
        if index is None:
            return None
        value = self.values[index] if index >= 0 else _NO_KEYS
        return frozenset({value}) if isinstance(value, bytes) else value

    def remember(
        self,
        chunk: bytes,
        keys: frozenset[bytes],
        word_ids: Sequence[int],
        folded: bytes | None,
        spans: list[int] | None = None,
    ) -> None:
        """`spans`: of each word in the chunk, in characters (None: one word, the whole chunk)."""
        if self.table is None:
            self.known[chunk] = keys
        else:
            self.table.add(chunk, self._index(keys) if keys else -1, word_ids, folded, spans)


class Lexicon:
    """Chunk (a piece of an article between ASCII separators) -> the rule keys its words are.

    Kept across articles: news repeats its vocabulary, so after a few articles nearly every
    chunk of an article is known, and its keys come from one look-up per distinct chunk.
    Only new chunks are folded (the non-ASCII ones) and tried against the prefixes, in Python.
    The look-ups run in the C chunk table of `alerts.rules._scan` (each chunk hashed and probed in
    place, no Python object per chunk; the phrases of two or more plain words found in the same
    pass) or, where that module was not compiled, in a dict."""

    __slots__ = (
        "vocabulary", "prefixes", "lengths", "shortest", "starts", "state", "limit", "phrases", "phrase_words",
    )  # fmt: skip

    def __init__(
        self,
        vocabulary: set[bytes],
        prefixes: set[bytes],
        limit: int = LEXICON_LIMIT,
        phrases: Iterable[bytes] | None = None,
        near_words: Iterable[bytes] = (),
    ) -> None:
        self.vocabulary = frozenset(vocabulary)
        self.prefixes = frozenset(p[:-1] for p in prefixes)  # stored without the *
        self.lengths = sorted({len(p) for p in self.prefixes})
        # The prefixes cut to the shortest one's length: a word must start like one of them.
        self.shortest = self.lengths[0] if self.lengths else 0
        self.starts = frozenset(p[: self.shortest] for p in self.prefixes)
        self.limit = limit
        # Word -> its id (from 1) for the words of phrases and the plain words of NEAR (whose
        # positions the C table finds), and each phrase as ids -> its key; None: no C table.
        self.phrase_words: dict[bytes, int] = {}
        self.phrases: dict[tuple[int, ...], bytes] | None = None
        if phrases is not None and _scan is not None:
            self.phrases = {}
            for key in sorted(phrases):
                ids = tuple(self.phrase_words.setdefault(w, len(self.phrase_words) + 1) for w in key.split())
                self.phrases[ids] = key
            for word in sorted(near_words):
                self.phrase_words.setdefault(word, len(self.phrase_words) + 1)
        self.state = self._new_state()

    def _new_state(self) -> LexiconState:
        state = LexiconState(self.phrases)
        table = state.table
        if table is not None:
            # Every phrase word that is ASCII is in the table from the start: a new ASCII chunk
            # is then a word of no phrase, and the C scan looks for phrases all the same. And
            # unless it is a word of the rules or a prefix starts it, it has no key either: the
            # scan enters such chunks itself (most new chunks: numbers, names no rule has).
            for word in self.phrase_words:
                if word.isascii():
                    self.add(word, state)
            words, prefixes = _scan.ChunkTable([]), _scan.ChunkTable([])
            for word in self.vocabulary:
                if word.isascii():
                    words.add(word, -1, [0])
            for prefix in self.prefixes:
                prefixes.add(prefix, -1, [0])
            table.learn_plain(words, prefixes, self.lengths)
            state.preset = len(table)
        return state

    def keys(self, scan: ScannedText, view: bool = False) -> tuple[Any, LexiconState, bytes | None, Any]:
        """Return the keys (words, b"prefix*" and, with the C table, phrases) that the field's
        words hit (a set; with the C table a `_scan.KeySet`, which reads like one), the state
        they came from, and with the C table the ids of the field's words in order (int32;
        those of phrase and NEAR words, 0 for the others) and, when asked for with `view`, what
        the table's `view` gives, made in the same pass (None where it could not be)."""
        state = self.state
        if state.table is None:
            return (*self._keys_from_dict(scan.tokens, state), None, None)
        if len(state) - state.preset > self.limit:  # the scan enters plain words itself
            state = self.state = self._new_state()
        # The field's non-ASCII chunks are left for `scan.dirty` to find if a check asks.
        keys, new, _, complete, words, *made = state.table.scan(scan.data, False, True, view)
        if not new:
            return keys, state, words, made[0] if made else None
        if len(state) - state.preset > self.limit:
            state = self.state = self._new_state()
            new, complete = scan.tokens, False  # the known ones are not in the new state either
        learned = self._learn_new(new, state)
        if complete:  # the new chunks were words of no phrase (and no NEAR word: those are known)
            for key in (key for found in learned for key in found):
                keys.add(key)
            return keys, state, words, None
        keys, _, _, _, words, *made = state.table.scan(scan.data, False, True, view)  # every chunk known now
        return keys, state, words, made[0] if made else None

    def _learn_new(self, new: Iterable[bytes], state: LexiconState) -> list[frozenset[bytes]]:
        """`add` each new chunk to the C table; most are plain ASCII words of no rule (a number,
        a name no rule has), entered straight away without keys."""
        vocabulary, starts, shortest, get = self.vocabulary, self.starts, self.shortest, self.phrase_words.get
        table, add = state.table, self.add
        learned: list[frozenset[bytes]] = []
        for chunk in new:
            if chunk.isascii() and chunk not in vocabulary and chunk[:shortest] not in starts:
                table.add(chunk, -1, [get(chunk, 0)], None, None)
                learned.append(_NO_KEYS)
            else:
                learned.append(add(chunk, state))
        return learned

    def _keys_from_dict(self, tokens: set[bytes], state: LexiconState) -> tuple[set[bytes], LexiconState]:
        found: list[frozenset[bytes] | None] = list(map(state.known.get, tokens))
        try:
            return set().union(*found), state
        except TypeError:  # a None: some chunks are new
            pass
        new: Iterable[bytes] = list(compress(tokens, map(is_, found, repeat(None))))
        if len(state) > self.limit:
            state = self.state = self._new_state()
            new, found = tokens, []  # the known ones are not in the new state either
        learned = [self.add(chunk, state) for chunk in new]
        return set().union(*filter(None, found), *learned), state

    def add(self, chunk: bytes, state: LexiconState) -> frozenset[bytes]:
        """Learn a new chunk into `state` and return its keys."""
        words, spans = ((chunk,), None) if chunk.isascii() else chunk_parts(chunk)
        keys = self.learn(words)
        if keys and words != (chunk,):
            changing = state.changing
            for key in keys:  # a new frozenset: readers never see one change
                changing[key] = changing.get(key, _NO_KEYS) | {chunk}
        get = self.phrase_words.get
        folded = None if words == (chunk,) else b" ".join(words)
        state.remember(
            chunk, keys, [get(w, 0) for w in words], folded, spans
        )  # last: a known chunk is complete
        return keys

    def learn(self, words: tuple[bytes, ...]) -> frozenset[bytes]:
        """Return the keys of one chunk's folded words (the slow path, once per new chunk)."""
        vocabulary, prefixes, shortest = self.vocabulary, self.prefixes, self.shortest
        keys = [canonical(w) for w in words if w in vocabulary]
        for word in words:
            if word[:shortest] not in self.starts:
                continue  # no prefix starts like this word (most words)
            for length in self.lengths:
                if length > len(word):
                    break
                if word[:length] in prefixes:
                    keys.append(canonical(word[:length] + b"*"))
        return frozenset(keys) if keys else _NO_KEYS
