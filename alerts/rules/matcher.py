"""The compiled matcher: every rule evaluated against an article in one pass.

How (the choices were measured with bench/bench_matcher.py):

1. Title and body are each turned into bytes split at ASCII separators
   (`alerts.rules.text.ScannedText`: the common non-ASCII separators, ’ “ ” — – … and the no-break
   space, become spaces first, so most English text is plain ASCII). A lexicon kept across
   articles maps each chunk to the rule keys its folded words hit (words, and `b"prefix*"` for
   prefixes); only chunks never seen before are folded and tried against the prefixes, in
   Python. News repeats its vocabulary, so that is a handful of chunks per article.
2. The lexicon lives in the C chunk table of `alerts.rules._scan` (setup.py builds it; optional):
   one pass over the bytes hashes and probes each chunk in place and returns the article's
   keys, and follows the article's words through a trie of every phrase of two or more plain
   words, so such a phrase is a key like a word (b"space station"). The same table gives the
   positions of NEAR words and the folded text b" w1 w2 … " in one pass each. Where the module
   was not compiled (or NEWSWATCH_PURE_PYTHON=1), the lexicon is a dict over the distinct
   chunks and phrases are looked for as below; the tests run both.
3. Each rule has *requirement groups*: sets of keys of which at least one per group must
   occur for the rule to be true (`x AND (y OR z)` → {x}, {y, z}; a phrase needs its key, or
   without the C table each of its words; NOT adds none). A rule is looked at only when all
   its groups are satisfied.
4. A rule that is nothing but words, prefixes (and, with the C table, plain phrases) in ANDs of
   ORs, in any field, is decided by its groups alone. Any other rule (NEAR, NOT, field scopes,
   `=Exact`, phrases with a prefix or an exact word) is evaluated by a small Python function
   generated from its tree. Such a phrase is looked for in the folded text when that is cheap
   to build (the C table, or few chunks that change when folded), else first in the split
   bytes (one regex search led by its first word). An exact ASCII word whose folded form only
   stands as a chunk of its own is looked for in the raw text. NEAR uses word positions.

Explanations (`RuleMatch.hits`, `.snippet`) come from the plain evaluator in
`alerts.rules.reference`, run only for the rules that matched.

Rule options: `sources:` (a rule never matches articles of other sources; when the caller
gives no source, no rule is limited) and `enabled: false` (the rule is left out).
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, filterfalse, repeat
from operator import is_, itemgetter
from typing import Any

from alerts.rules import reference
from alerts.rules.query import (
    FIELDS,
    And,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Query,
    QuerySyntaxError,
    Word,
    parse_query,
)
from alerts.rules.text import ScannedText, chunk_words, encode, fold, is_plain_word
from newswatch.core.errors import UserError

try:  # the optional C chunk table (setup.py); without it the lexicon is a dict
    from alerts.rules import _scan
except ImportError:  # pragma: no cover - depends on the machine that installed newswatch
    _scan = None  # type: ignore[assignment]

# Whether rule sets compiled from now on use the C chunk table (when it was compiled):
# NEWSWATCH_PURE_PYTHON=1 turns it off, the tests run both.
USE_C_SCAN = os.environ.get("NEWSWATCH_PURE_PYTHON", "") in ("", "0")

SNIPPET_BEFORE = 12  # words shown before the first hit
SNIPPET_AFTER = 24  # words shown after it
_TITLE, _TEXT = 1, 2
_MASK = {None: _TITLE | _TEXT, "title": _TITLE, "text": _TEXT}
_second = itemgetter(1)


@dataclass
class RuleMatch:
    """One rule that matched one article, with what hit where and a highlighted snippet."""

    rule: str
    hits: dict[str, list[str]]
    snippet: str


class RuleError(UserError):
    """A rule that cannot be compiled: "rule 'NAME': column N: …"."""

    def __init__(self, rule: str, message: str, column: int | None = None) -> None:
        self.rule, self.column, self.message = rule, column, message
        where = f"column {column}: " if column is not None else ""
        super().__init__(f"rule '{rule}': {where}{message}")


Evaluator = Callable[[set[bytes], set[bytes], "_Article"], bool]


@dataclass
class _Compiled:
    name: str
    query: Query
    sources: frozenset[str] | None
    groups: list[frozenset[bytes]]
    evaluate: Evaluator | None = None  # None: the groups decide


# ---------------------------------------------------------------------------- atoms


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


class _WordSpec:
    """A word as the lazy checks see it: folded (or exact) key, maybe a prefix."""

    __slots__ = ("key", "folded", "prefix", "exact", "mask", "_pattern")

    def __init__(self, word: Word) -> None:
        self.key = encode(word.key)
        self.folded = _key(word)
        self.prefix = word.prefix
        self.exact = word.exact
        self.mask = _MASK[word.field]
        self._pattern: re.Pattern[str] | None = None

    def pattern(self) -> re.Pattern[str] | None:
        """An exact ASCII word as a regex over the raw text (None for a non-ASCII word)."""
        if self._pattern is None and self.key.isascii():
            key = re.escape(self.key.decode())
            self._pattern = re.compile(key if self.prefix else f"{key}(?!{_NOT_SEPARATOR})")
        return self._pattern

    def present(self, article: _Article, f: int) -> bool:
        if not self.exact:
            return self.folded in article.words[f]
        if self.folded not in article.words[f]:
            return False  # the exact form folds to the folded one
        pattern = self.pattern()
        if pattern is not None and not article.dirty(f, self.folded):
            # Every word that folds like this one is then an ASCII chunk of its own in the
            # raw text, so the exact form is there as it is, between separators.
            return _standalone(pattern, article.scans[f].text)
        words = article.exact_words(f)
        if not self.prefix:
            return self.key in words
        key = self.key
        return any(w.startswith(key) for w in words)

    def positions(self, article: _Article, f: int) -> list[int]:
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
        # Find the word in b" w0 w1 … " and count the spaces before it: all at C speed.
        joined = article.joined(f)
        needle = b" " + self.key if self.prefix else b" " + self.key + b" "
        out = []
        count = joined.count
        index = last = 0
        at = joined.find(needle)
        while at >= 0:
            index += count(b" ", last, at)
            out.append(index)
            last = at
            at = joined.find(needle, at + 1)
        return out


# Between two words of a phrase in an article's split bytes: spaces, and maybe chunks of
# non-ASCII bytes only (a dash, quotes), which must then turn out to have no words.
_GAP = rb"(?: +[\x80-\xff]+)* +"


class _PhraseSpec:
    """A phrase: found in the split bytes when it can be, else on b" w1 w2 … " or word by word."""

    __slots__ = ("words", "needle", "mask", "keys", "plain", "_pattern", "indexed")

    def __init__(self, phrase: Phrase) -> None:
        self.words = [_WordSpec(w) for w in phrase.words]
        self.indexed = _indexed_key(phrase)  # found by the C chunk table, when there is one
        self.mask = _MASK[phrase.field]
        # Every word must be among the article's words (prefixes as b"key*", exact ones folded).
        self.keys = sorted({_key(w) for w in phrase.words}, key=len, reverse=True)
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

    def present(self, article: _Article, f: int) -> bool:
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

    def starts(self, article: _Article, f: int) -> list[int]:
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


class _Positional:
    """Occurrence spans (first, last word index) of a NEAR side in one field."""

    def __init__(self, node: Node) -> None:
        self.node = node
        if isinstance(node, Word):
            self.word = _WordSpec(node)
        elif isinstance(node, Phrase):
            self.phrase = _PhraseSpec(node)
            self.size = len(node.words)
        elif isinstance(node, Or):
            self.children = [_Positional(c) for c in node.children]
        else:
            assert isinstance(node, Near)
            self.left, self.right = _Positional(node.left), _Positional(node.right)
            self.distance = node.distance

    def spans(self, article: _Article, f: int) -> list[tuple[int, int]]:
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


# ---------------------------------------------------------------------------- per article


class _Article:
    """One article's words, computed once; the slower views are built only when asked for.

    It is also the `a` of the generated rule functions: `a.phrase(id, mask)` and friends."""

    __slots__ = (
        "scans",
        "words",
        "checks",
        "changing",
        "_exact",
        "_cache",
        "_padded",
        "searches",
        "built",
        "tables",
        "word_ids",
        "_positions",
    )

    def __init__(self, title: str, text: str, checks: list[Any]) -> None:
        self.scans = (ScannedText(title), ScannedText(text))
        self.words: tuple[set[bytes], set[bytes]] = (set(), set())
        # Per field: the lexicon's key -> changing chunks table its keys came from.
        self.changing: tuple[dict[bytes, frozenset[bytes]], ...] = ()
        self.checks = checks
        self._exact: list[ScannedText | None] = [None, None]
        self._cache: dict[int, bool] = {}
        self._padded: list[bytes | None] = [None, None]
        self.searches = [0, 0]  # phrases looked for without the folded text, per field
        self.built: list[bytes | None] = [None, None]  # the folded texts built so far
        # Per field: the C chunk table its keys came from (None: the dict lexicon), and the
        # ids it knows words by (phrase words and plain NEAR words).
        self.tables: tuple[Any, ...] = (None, None)
        self.word_ids: dict[bytes, int] = {}
        self._positions: list[dict[int, list[int]] | None] = [None, None]

    def word_positions(self, f: int, word: bytes) -> list[int] | None:
        """The positions of a plain NEAR word in the field, from the C chunk table (one pass over
        the split bytes for all of them), or None where it cannot tell."""
        table, index = self.tables[f], self.word_ids.get(word)
        if table is None or index is None:
            return None
        found = self._positions[f]
        if found is None:
            found = self._positions[f] = table.positions(self.scans[f].data)
            if found is None:  # a chunk the table does not know (replaced meanwhile)
                self.tables = tuple(None if i == f else t for i, t in enumerate(self.tables))
                return None
        return found.get(index, [])

    def dirty(self, f: int, key: bytes) -> bool:
        """True when `key` comes from a chunk of the field that is not exactly its one folded
        word (`Roscosmos’s`, `café`, `Роскосмос`, `“Hello`): one probe of the few such chunks
        known for that key."""
        chunks = self.changing[f].get(key)
        return chunks is not None and not self.scans[f].dirty.isdisjoint(chunks)

    def padded(self, f: int) -> bytes:
        """b" " + the field's split bytes + b" "."""
        found = self._padded[f]
        if found is None:
            found = self._padded[f] = b" " + self.scans[f].data + b" "
        return found

    def exact_scan(self, f: int) -> ScannedText:
        found = self._exact[f]
        if found is None:
            found = self._exact[f] = ScannedText(self.scans[f].text, exact=True)
        return found

    def exact_words(self, f: int) -> set[bytes]:
        return self.exact_scan(f).words()

    def sequence(self, f: int, exact: bool) -> list[bytes]:
        if not exact and self.tables[f] is not None:
            return self.joined(f)[1:-1].split()
        return (self.exact_scan(f) if exact else self.scans[f]).sequence()

    def joined(self, f: int) -> bytes:
        """b" w1 w2 … wn ": the field's folded words (from the C chunk table when there is one)."""
        found = self.built[f]
        if found is None:
            table = self.tables[f]
            if table is not None:
                found = table.joined(self.scans[f].data)
            if found is None:
                found = self.scans[f].joined()
            self.built[f] = found
        return found

    # The calls generated code makes:

    def phrase(self, spec: int, mask: int) -> bool:
        key = spec * 4 + mask
        found = self._cache.get(key)
        if found is None:
            phrase = self.checks[spec]
            found = bool(mask & 1 and phrase.present(self, 0)) or bool(mask & 2 and phrase.present(self, 1))
            self._cache[key] = found
        return found

    def exact(self, spec: int, mask: int) -> bool:
        word = self.checks[spec]
        return bool(mask & 1 and word.present(self, 0)) or bool(mask & 2 and word.present(self, 1))

    def near(self, spec: int) -> bool:
        key = spec * 4
        found = self._cache.get(key)
        if found is None:
            positional = self.checks[spec]
            found = bool(positional.spans(self, 0)) or bool(positional.spans(self, 1))
            self._cache[key] = found
        return found


# ---------------------------------------------------------------------------- compiling


# One bytes object per distinct key across the compiled rules and the lexicon: set and dict
# look-ups then find a key by identity, without comparing bytes (a memory access fewer).
_KEYS: dict[bytes, bytes] = {}
_KEYS_LIMIT = 1_000_000


def _canonical(key: bytes) -> bytes:
    if len(_KEYS) > _KEYS_LIMIT:
        return _KEYS.get(key, key)
    return _KEYS.setdefault(key, key)


def _key(word: Word) -> bytes:
    """The folded key a word is found by (exact words: their folded form; prefixes end in *)."""
    key = encode(fold(word.key) if word.exact else word.key)
    return _canonical(key + b"*" if word.prefix else key)


def _indexed_key(phrase: Phrase) -> bytes | None:
    """The key of a phrase the C chunk table finds by itself (two or more plain words:
    no prefix, no exact case), e.g. b"international space station"; None for other phrases."""
    if len(phrase.words) < 2 or any(w.prefix or w.exact for w in phrase.words):
        return None
    return _canonical(b" ".join(encode(w.key) for w in phrase.words))


def _atoms(node: Node, in_near: bool = False) -> Iterable[tuple[Word | Phrase, bool]]:
    """The words and phrases of `node`, each with whether it stands on a side of a NEAR."""
    if isinstance(node, Word | Phrase):
        yield node, in_near
    elif isinstance(node, Near):
        yield from _atoms(node.left, True)
        yield from _atoms(node.right, True)
    elif isinstance(node, Not):
        yield from _atoms(node.child, in_near)
    else:
        for child in node.children:
            yield from _atoms(child, in_near)


def _words_of(node: Node, indexed: bool = False) -> Iterable[Word]:
    """The words of `node` the lexicon must know (with `indexed`: not those of the phrases the
    chunk table finds by itself, outside NEAR, which looks at word positions)."""
    for atom, in_near in _atoms(node):
        if isinstance(atom, Word):
            yield atom
        elif in_near or not (indexed and _indexed_key(atom)):
            yield from atom.words


def _near_words(node: Node) -> Iterable[bytes]:
    """The keys of the plain words (no prefix, no exact case) on the sides of NEARs."""
    for atom, in_near in _atoms(node):
        if in_near:
            words = [atom] if isinstance(atom, Word) else atom.words
            yield from (_key(w) for w in words if not w.prefix and not w.exact)


def _phrases_of(node: Node) -> Iterable[Phrase]:
    return (atom for atom, _ in _atoms(node) if isinstance(atom, Phrase))


def _groups(node: Node, negated: bool = False, indexed: bool = False) -> list[frozenset[bytes]]:
    """Return sets of keys, at least one of each must occur for `node` to be true (with
    `indexed`, a phrase the chunk table finds is one key of its own)."""
    if isinstance(node, Word):
        return [] if negated else [frozenset({_key(node)})]
    if isinstance(node, Phrase):
        if negated:
            return []
        key = _indexed_key(node) if indexed else None
        return [frozenset({key})] if key else [frozenset({_key(w)}) for w in node.words]
    if isinstance(node, Near):
        return [] if negated else _groups(node.left) + _groups(node.right)
    if isinstance(node, Not):
        return _groups(node.child, not negated, indexed)
    if isinstance(node, Or) != negated:  # any one child may be the true one
        union: set[bytes] = set()
        for child in node.children:
            options = _groups(child, negated, indexed)
            if not options:
                return []
            union |= max(options, key=_selectivity)
        return [frozenset(union)]
    return [g for child in node.children for g in _groups(child, negated, indexed)]


def _minimal(groups: list[frozenset[bytes]]) -> list[frozenset[bytes]]:
    """Drop repeated groups and groups implied by a smaller one."""
    out: list[frozenset[bytes]] = []
    for group in sorted(set(groups), key=len):
        if not any(kept <= group for kept in out):
            out.append(group)
    return out


def _selectivity(group: frozenset[bytes]) -> tuple[int, int]:
    """A guess of how rarely a group is hit: few keys, long keys, no prefixes first."""
    return (-len(group), min(len(k) - (4 if k.endswith(b"*") else 0) for k in group))


def _decided_by_groups(node: Node, indexed: bool = False) -> bool:
    """True for ANDs of ORs of plain words/prefixes (and, with `indexed`, of the phrases the
    chunk table finds) in both fields: the groups are the rule."""

    def plain(n: Node) -> bool:
        if isinstance(n, Phrase):
            return indexed and n.field is None and _indexed_key(n) is not None
        return isinstance(n, Word) and not n.exact and n.field is None

    def disjunction(n: Node) -> bool:
        return plain(n) or (isinstance(n, Or) and all(plain(c) for c in n.children))

    return disjunction(node) or (isinstance(node, And) and all(disjunction(c) for c in node.children))


class _CodeGen:
    """Turns a rule's tree into one Python expression over T, X (word sets) and a (_Article)."""

    def __init__(self, indexed: bool = False) -> None:
        self.checks: list[Any] = []
        self.indexed = indexed  # phrases the chunk table finds are keys like words

    def _add(self, check: Any) -> int:
        self.checks.append(check)
        return len(self.checks) - 1

    def expr(self, node: Node) -> str:
        if isinstance(node, Word):
            return self.word(node)
        if isinstance(node, Phrase):
            key = _indexed_key(node) if self.indexed else None
            if key is not None:
                return self._in_fields(key, node.field)
            return f"a.phrase({self._add(_PhraseSpec(node))}, {_MASK[node.field]})"
        if isinstance(node, Near):
            return f"a.near({self._add(_Positional(node))})"
        if isinstance(node, Not):
            return f"(not {self.expr(node.child)})"
        # Cheap set look-ups first, lazy checks last.
        parts = sorted((self.expr(c) for c in node.children), key=lambda e: "a." in e)
        joiner = " and " if isinstance(node, And) else " or "
        return "(" + joiner.join(parts) + ")"

    def word(self, node: Word) -> str:
        if node.exact:
            return f"a.exact({self._add(_WordSpec(node))}, {_MASK[node.field]})"
        return self._in_fields(_key(node), node.field)

    @staticmethod
    def _in_fields(key: bytes, field: str | None) -> str:
        if field == "title":
            return f"{key!r} in T"
        if field == "text":
            return f"{key!r} in X"
        return f"({key!r} in X or {key!r} in T)"


# Phrases looked for in a field without its folded text; past that, the folded text is built.
PHRASE_SEARCHES = 4
_NO_KEYS: frozenset[bytes] = frozenset()
LEXICON_LIMIT = 100_000  # distinct chunks remembered per compiled rule set (~15 MiB at most)


class _LexiconState:
    """What a lexicon has learned; replaced as a whole when full, never cleared in place (a
    scan running in another thread keeps the state it started with).

    `changing`: key -> the chunks giving it that are not exactly their one folded word
    (`Roscosmos’s`, `Café`), which phrases and exact words cannot be looked for in the split
    bytes. Then either `table` (the C chunk table: chunk -> index into `values`, -1 for no
    keys, and its words as phrase-word ids; and the trie of the phrases) or `known` (a dict:
    chunk -> its keys, empty for none)."""

    __slots__ = ("known", "changing", "table", "values", "value_index")

    def __init__(self, phrases: dict[tuple[int, ...], bytes] | None) -> None:
        self.known: dict[bytes, frozenset[bytes]] = {}
        self.changing: dict[bytes, frozenset[bytes]] = {}
        self.values: list[bytes | frozenset[bytes]] = []
        self.value_index: dict[frozenset[bytes], int] = {}
        self.table = None if phrases is None else _scan.ChunkTable(self.values)
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
        self, chunk: bytes, keys: frozenset[bytes], word_ids: Sequence[int], folded: bytes | None
    ) -> None:
        if self.table is None:
            self.known[chunk] = keys
        else:
            self.table.add(chunk, self._index(keys) if keys else -1, word_ids, folded)


class _Lexicon:
    """Chunk (a piece of an article between ASCII separators) -> the rule keys its words are.

    Kept across articles: news repeats its vocabulary, so after a few articles nearly every
    chunk of an article is known, and its keys come from one look-up per distinct chunk.
    Only new chunks are folded (the non-ASCII ones) and tried against the prefixes, in Python.
    The look-ups run in the C chunk table of `alerts.rules._scan` (each chunk hashed and probed in
    place, no Python object per chunk; the phrases of two or more plain words found in the same
    pass) or, where that module was not compiled, in a dict."""

    __slots__ = (
        "vocabulary", "prefixes", "lengths", "shortest", "starts", "state", "limit", "phrases", "phrase_words",
        "near_ids",
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
        self.near_ids = [self.phrase_words[w] for w in sorted(near_words) if w in self.phrase_words]
        self.state = self._new_state()

    def _new_state(self) -> _LexiconState:
        state = _LexiconState(self.phrases)
        if state.table is not None:
            for index in self.near_ids:
                state.table.mark(index)
            # Every phrase word that is ASCII is in the table from the start: a new ASCII chunk
            # is then a word of no phrase, and the C scan looks for phrases all the same.
            for word in self.phrase_words:
                if word.isascii():
                    self.add(word, state)
        return state

    def keys(self, scan: ScannedText) -> tuple[set[bytes], _LexiconState]:
        """Return the keys (words, b"prefix*" and, with the C table, phrases) that the field's
        words hit, and the state they came from."""
        state = self.state
        if state.table is None:
            return self._keys_from_dict(scan.tokens, state)
        keys, new, dirty, complete = state.table.scan(scan.data)
        scan.preset_dirty(dirty)
        if not new:
            return keys, state
        if len(state) > self.limit:
            state = self.state = self._new_state()
            new, complete = scan.tokens, False  # the known ones are not in the new state either
        learned = [self.add(chunk, state) for chunk in new]
        if complete:  # the new chunks were words of no phrase
            return keys.union(*learned), state
        keys = state.table.scan(scan.data)[0]  # every chunk known now: the phrases too
        return keys, state

    def _keys_from_dict(self, tokens: set[bytes], state: _LexiconState) -> tuple[set[bytes], _LexiconState]:
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

    def add(self, chunk: bytes, state: _LexiconState) -> frozenset[bytes]:
        """Learn a new chunk into `state` and return its keys."""
        words = (chunk,) if chunk.isascii() else chunk_words(chunk)
        keys = self.learn(words)
        if keys and words != (chunk,):
            changing = state.changing
            for key in keys:  # a new frozenset: readers never see one change
                changing[key] = changing.get(key, _NO_KEYS) | {chunk}
        get = self.phrase_words.get
        folded = None if words == (chunk,) else b" ".join(words)
        state.remember(chunk, keys, [get(w, 0) for w in words], folded)  # last: a known chunk is complete
        return keys

    def learn(self, words: tuple[bytes, ...]) -> frozenset[bytes]:
        """Return the keys of one chunk's folded words (the slow path, once per new chunk)."""
        vocabulary, prefixes, shortest = self.vocabulary, self.prefixes, self.shortest
        keys = [_canonical(w) for w in words if w in vocabulary]
        for word in words:
            if word[:shortest] not in self.starts:
                continue  # no prefix starts like this word (most words)
            for length in self.lengths:
                if length > len(word):
                    break
                if word[:length] in prefixes:
                    keys.append(_canonical(word[:length] + b"*"))
        return frozenset(keys) if keys else _NO_KEYS


class CompiledRules:
    """All rules compiled together; `match()` evaluates them all against one article."""

    def __init__(self, compiled: list[_Compiled], checks: list[Any], indexed: bool = False) -> None:
        self._rules = compiled
        self._checks = checks
        vocabulary: set[bytes] = set()
        prefixes: set[bytes] = set()
        phrases: set[bytes] = set()
        near_words: set[bytes] = set()
        for rule in compiled:
            for word in _words_of(rule.query.root, indexed):
                key = _key(word)
                (prefixes if word.prefix else vocabulary).add(key)
            if indexed:
                phrases.update(filter(None, map(_indexed_key, _phrases_of(rule.query.root))))
                near_words.update(_near_words(rule.query.root))
        # Plain sets, not frozensets: their intersections come back as mutable sets.
        # Rules decided by one group match as soon as one of its keys occurs.
        self._direct: dict[bytes, list[int]] = {}
        # The others are looked at when a key of their trigger group (the most selective-looking
        # one) occurs; then every other group must be hit too before the rule is evaluated.
        self._triggers: dict[bytes, list[int]] = {}
        self._other_groups: list[tuple[frozenset[bytes], ...]] = []
        self._evaluate: list[Evaluator | None] = []
        for index, rule in enumerate(compiled):
            self._evaluate.append(rule.evaluate)
            trigger = max(rule.groups, key=_selectivity)
            self._other_groups.append(tuple(g for g in rule.groups if g is not trigger))
            table = self._direct if rule.evaluate is None and len(rule.groups) == 1 else self._triggers
            for key in trigger:
                table.setdefault(key, []).append(index)
        self._direct_keys = frozenset(self._direct)
        self._trigger_keys = frozenset(self._triggers)
        self._lexicon = _Lexicon(
            vocabulary, prefixes, phrases=phrases if indexed else None, near_words=near_words
        )

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def names(self) -> list[str]:
        return [rule.name for rule in self._rules]

    @property
    def queries(self) -> list[Query]:
        return [rule.query for rule in self._rules]

    def _matching(self, title: str, text: str, source: str | None) -> list[_Compiled]:
        article = _Article(title or "", text or "", self._checks)
        keys = self._lexicon.keys
        title_keys, title_state = keys(article.scans[0])
        text_keys, text_state = keys(article.scans[1])
        words = article.words = (title_keys, text_keys)
        article.changing = (title_state.changing, text_state.changing)
        article.tables = (title_state.table, text_state.table)
        article.word_ids = self._lexicon.phrase_words
        present = words[0] | words[1]
        matched: set[int] = set().union(*map(self._direct.__getitem__, present & self._direct_keys))
        candidates = set().union(*map(self._triggers.__getitem__, present & self._trigger_keys))
        if candidates:
            other_groups, evaluate = self._other_groups, self._evaluate
            title_words, text_words = words
            for index in candidates:
                for group in other_groups[index]:
                    if present.isdisjoint(group):
                        break
                else:
                    function = evaluate[index]
                    if function is None or function(title_words, text_words, article):
                        matched.add(index)
        rules = self._rules
        if source is None:
            return [rules[i] for i in sorted(matched)]
        return [r for r in (rules[i] for i in sorted(matched)) if r.sources is None or source in r.sources]

    def match_names(self, title: str, text: str, source: str | None = None) -> list[str]:
        """Return the names of the rules that match, in rule-definition order (no explanation)."""
        return [rule.name for rule in self._matching(title, text, source)]

    def match(self, title: str, text: str, source: str | None = None) -> list[RuleMatch]:
        """Return the rules that match the article, in rule-definition order, explained."""
        rules = self._matching(title, text, source)
        if not rules:
            return []
        plain = reference.Article(title or "", text or "")
        return [explain(rule.name, rule.query, plain) for rule in rules]


# ---------------------------------------------------------------------------- explanations


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


# ---------------------------------------------------------------------------- entry points


def _rule_fields(rule: Any) -> tuple[str, str, Iterable[str] | None, bool]:
    if isinstance(rule, dict):
        return rule["name"], rule["query"], rule.get("sources"), rule.get("enabled", True)
    return rule.name, rule.query, getattr(rule, "sources", None), getattr(rule, "enabled", True)


def compile_rules(rules: Sequence[Any]) -> CompiledRules:
    """Return the enabled rules compiled together; raise RuleError naming a malformed rule."""
    indexed = USE_C_SCAN and _scan is not None
    codegen = _CodeGen(indexed)
    compiled: list[_Compiled] = []
    generated: list[tuple[_Compiled, str]] = []
    for rule in rules:
        name, text, sources, enabled = _rule_fields(rule)
        if not enabled:
            continue
        try:
            query = parse_query(text)
        except QuerySyntaxError as exc:
            raise RuleError(name, exc.message, exc.column) from None
        source_set = frozenset(sources) if sources is not None else None
        entry = _Compiled(name, query, source_set, _minimal(_groups(query.root, indexed=indexed)))
        compiled.append(entry)
        if not _decided_by_groups(query.root, indexed):
            generated.append((entry, f"lambda T, X, a: {codegen.expr(query.root)}"))
    if generated:
        source = "(" + ",\n".join(code for _, code in generated) + ",)"
        functions = eval(compile(source, "<rules>", "eval"), {})  # noqa: S307 - code we generated
        for (entry, _), function in zip(generated, functions, strict=True):
            entry.evaluate = function
    return CompiledRules(compiled, codegen.checks, indexed)


def compile_query(query: str, name: str = "query") -> CompiledRules:
    """Return one ad-hoc query compiled as a rule (for the archive search and `rules test`)."""
    return compile_rules([{"name": name, "query": query}])
