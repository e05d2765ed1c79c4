"""Explanations from the matcher's own split of the article: hits and snippets, no second pass.

What a match's hits are is defined by the plain evaluator (`alerts.rules.reference`): the
occurrences, per field, of the words, phrases and NEARs that made the rule true (all parts of a
true AND, the true parts of an OR, nothing under a NOT); each distinct folded form is listed
once, as first written, in order of first occurrence; the snippet marks the occurrences around
the first one. The same is computed here from the words the compiled matcher has already split
(`ScannedArticle`): each field's folded words, their offsets in the text (one pass of the C
chunk table, or the word regex), and each distinct word's first position.

The rules matched on one article share that work. Each atom (word, prefix, phrase, NEAR) of the
compiled rules is numbered once (`ExplainPlans`); per article an atom's hits are worked out once
and kept as the first occurrence of each distinct folded form it hit, so a rule's hits are a
merge of the few entries of its true atoms. Snippets are made only when read.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from alerts.rules.explanations import RuleMatch, make_snippet
from alerts.rules.keys import indexed_key, word_key
from alerts.rules.text import encode, tokenize
from alerts.rules.tree import FIELDS, And, Near, Node, Not, Or, Phrase, Word

if TYPE_CHECKING:
    from alerts.rules.scanned import ScannedArticle

Span = tuple[int, int]
GENERIC, WORD, PREFIX, PHRASE = range(4)  # how an atom is looked for (`ExplainPlans.kinds`)
First = tuple[int, int, bytes]  # (start, end, folded form) of a distinct form's first occurrence
# A rule's explanation plan: ("flat", atom ids) when its true atoms are simply those of its
# positive atoms that occur (an atom, an OR of atoms, an AND of those and NOTs); else its tree
# as ("atom", id), ("and", plans), ("or", plans), ("not", plan).
Plan = tuple


class ExplainPlans:
    """The atoms of every compiled rule, numbered once (the same atom in many rules, one id),
    each with how it is looked for: `kinds` (GENERIC, WORD, PREFIX or PHRASE of plain words),
    `needles` (the folded word, the prefix without its *, or b" w1 w2 "), and `keys`/`masks`:
    the rule key whose presence in the matcher's per-field key sets says the atom occurs there
    (None: worked out on the words), and the fields it is looked for in (1 title, 2 text)."""

    def __init__(self, indexed: bool = False) -> None:
        self.indexed = indexed  # phrases of plain words are keys (the C chunk table finds them)
        self.atoms: list[Word | Phrase | Near] = []
        self.kinds: list[int] = []
        self.needles: list[bytes] = []
        self.keys: list[bytes | None] = []
        self.masks: list[int] = []
        self._ids: dict[Hashable, int] = {}

    def atom(self, node: Word | Phrase | Near) -> int:
        if isinstance(node, Word):
            key: Hashable = (node.key, node.prefix, node.exact, node.field)
        else:
            key = str(node)  # the query text of the atom: no columns, scopes included
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.atoms)
            self._describe(node)
            self.atoms.append(node)
        return found

    def _describe(self, node: Word | Phrase | Near) -> None:
        kind, needle, key = GENERIC, b"", None
        if isinstance(node, Word) and not node.exact:
            kind, needle, key = (PREFIX if node.prefix else WORD), encode(node.key), word_key(node)
        elif isinstance(node, Phrase) and not any(w.prefix or w.exact for w in node.words):
            kind, needle = PHRASE, b" " + b" ".join(encode(w.key) for w in node.words) + b" "
            key = indexed_key(node) if self.indexed else None
        self.kinds.append(kind)
        self.needles.append(needle)
        self.keys.append(key)
        field = node.field if isinstance(node, Word | Phrase) else None
        self.masks.append({None: 3, "title": 1, "text": 2}[field])

    def plan(self, root: Node) -> Plan:
        """The explanation plan of a rule's tree."""
        if isinstance(root, Word | Phrase | Near):
            return ("flat", (self.atom(root),))
        children = root.children if isinstance(root, And | Or) else ()
        if isinstance(root, Or) and all(isinstance(c, Word | Phrase | Near) for c in children):
            return ("flat", tuple(self.atom(c) for c in children))
        if isinstance(root, And) and all(_flat_part(c) for c in children):
            ids = [self.atom(a) for c in children if not isinstance(c, Not) for a in _atoms_of(c)]
            return ("flat", tuple(dict.fromkeys(ids)))
        return self._tree(root)

    def _tree(self, node: Node) -> Plan:
        if isinstance(node, Word | Phrase | Near):
            return ("atom", self.atom(node))
        if isinstance(node, Not):
            return ("not", self._tree(node.child))
        return ("and" if isinstance(node, And) else "or", tuple(self._tree(c) for c in node.children))


def _flat_part(node: Node) -> bool:
    if isinstance(node, Word | Phrase | Near | Not):
        return True
    return isinstance(node, Or) and all(isinstance(c, Word | Phrase | Near) for c in node.children)


def _atoms_of(node: Node) -> list[Word | Phrase | Near]:
    return list(node.children) if isinstance(node, Or) else [node]  # type: ignore[list-item]


# Scanning the field for one word costs about what indexing all its words costs over this many
# scans (news articles of a few thousand characters).
_SCANS_BEFORE_INDEX = 8


class FieldView:
    """One field of one article: its folded words, their offsets in the text, first positions."""

    __slots__ = ("text", "words", "joined", "_offsets", "_offsets_of", "_first", "_sorted", "_exact_of",
                 "_exact", "_exact_index", "_exact_sorted", "_index", "_lookups", "_starts_ends")  # fmt: skip

    def __init__(
        self,
        text: str,
        joined: bytes,
        offsets_of: Callable[[], Sequence[int] | None],
        exact_of: Callable[[], list[bytes]],
    ) -> None:
        self.text = text
        self.joined = joined  # b" w1 w2 … wn "
        self.words: list[bytes] = joined.split()
        self._offsets_of = offsets_of
        self._offsets: Sequence[int] | None = None
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

    def starting(self, prefix: bytes, exact: bool = False) -> list[bytes]:
        """The distinct (folded, or exact) words that start with `prefix`."""
        if exact:
            if self._exact_sorted is None:
                self._exact_sorted = sorted(self.exact_index)
            ordered = self._exact_sorted
        else:
            if self._sorted is None:
                self._sorted = sorted(self.first)
            ordered = self._sorted
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
        joined, needle = self.joined, b" " + word + b" "
        out: list[int] = []
        index = last = 0
        at = joined.find(needle)
        while at >= 0:
            index += joined.count(b" ", last, at)
            out.append(index)
            last = at
            at = joined.find(needle, at + 1)
        return out

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
    if word.exact:
        index = view.exact_index
        if not word.prefix:
            return index.get(key, [])
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


def _firsts(spans: list[Span], view: FieldView) -> list[First]:
    """The first occurrence of each distinct folded form among `spans` (sorted)."""
    seen: set[bytes] = set()
    out = []
    for start, end in spans:
        form = view.form(start, end)
        if form not in seen:
            seen.add(form)
            out.append((start, end, form))
    return out


class ArticleHits:
    """Explains the rules matched on one article, each atom worked out once."""

    __slots__ = ("texts", "scanned", "plans", "_views", "_firsts", "_spans", "_hits")

    def __init__(self, title: str, text: str, scanned: ScannedArticle, plans: ExplainPlans) -> None:
        self.texts = (title, text)
        self.scanned = scanned
        self.plans = plans
        self._views: list[FieldView | None] = [None, None]
        self._firsts: dict[int, tuple[list[First], list[First]]] = {}
        self._spans: dict[tuple[int, int], list[Span]] = {}
        self._hits: dict[int, dict[str, list[str]]] = {}

    def view(self, f: int) -> FieldView:
        found = self._views[f]
        if found is None:
            scanned = self.scanned
            found = self._views[f] = FieldView(
                self.texts[f],
                scanned.joined(f),
                lambda: scanned.offsets(f),
                lambda: scanned.sequence(f, True),
            )
        return found

    def explain(self, rules: Sequence[tuple[str, Plan]]) -> list[RuleMatch]:
        """The RuleMatch of each (name, plan) of the rules that matched, in that order."""
        title_keys, text_keys = self.scanned.words
        keys, masks = self.plans.keys, self.plans.masks
        atom_hits, occurs = self._atom_hits, self.occurs
        out = []
        for name, (kind, payload) in rules:
            if kind == "flat":
                if len(payload) == 1:  # the one positive atom of a rule that matched
                    true = payload
                else:
                    true = []
                    for a in payload:
                        key = keys[a]
                        if key is None:
                            if occurs(a):
                                true.append(a)
                        elif (masks[a] & 1 and key in title_keys) or (masks[a] & 2 and key in text_keys):
                            true.append(a)
            else:
                true = list(dict.fromkeys(self._tree((kind, payload))[1]))
            hits = atom_hits(true[0]) if len(true) == 1 else self._merged(true)
            out.append(RuleMatch(name, hits, partial(self.snippet, true)))
        return out

    def _atom_hits(self, atom: int) -> dict[str, list[str]]:
        found = self._hits.get(atom)
        if found is None:
            plans = self.plans
            if plans.kinds[atom] == WORD:  # most atoms: one word, its first occurrence per field
                found = {}
                word, mask = plans.needles[atom], plans.masks[atom]
                for f, keys in enumerate(self.scanned.words):
                    if mask & (1 << f) and word in keys:
                        view = self.view(f)
                        position = view.first.get(word)
                        if position is not None:
                            found[FIELDS[f]] = [view.surface(position, position)]
            else:
                found = self._merged((atom,))
            self._hits[atom] = found
        return found

    def _atom_firsts(self, atom: int) -> tuple[list[First], list[First]]:
        found = self._firsts.get(atom)
        if found is None:
            plans = self.plans
            key, mask = plans.keys[atom], plans.masks[atom]
            if key is not None:  # the matcher's key sets say in which fields it occurs
                keys = self.scanned.words
                found = (
                    self._field_firsts(atom, 0) if mask & 1 and key in keys[0] else [],
                    self._field_firsts(atom, 1) if mask & 2 and key in keys[1] else [],
                )
            else:
                found = (
                    self._field_firsts(atom, 0) if mask & 1 else [],
                    self._field_firsts(atom, 1) if mask & 2 else [],
                )
            self._firsts[atom] = found
        return found

    def _field_firsts(self, atom: int, f: int) -> list[First]:
        plans = self.plans
        kind, needle = plans.kinds[atom], plans.needles[atom]
        if kind == WORD:  # most atoms: the word's first position, from one dict
            position = self.view(f).first.get(needle)
            return [] if position is None else [(position, position, needle)]
        if kind == PREFIX:
            view = self.view(f)
            first = view.first
            found = [(first[w], first[w], w) for w in view.starting(needle)]
            found.sort()
            return found
        if kind == PHRASE:  # one folded form: its first occurrence in b" w1 … wn "
            joined = self.view(f).joined
            at = joined.find(needle)
            if at < 0:
                return []
            start = joined.count(b" ", 0, at)
            return [(start, start + needle.count(b" ") - 2, needle[1:-1])]
        spans = self.spans(self.plans.atoms[atom], f)
        return _firsts(sorted(set(spans)), self.view(f)) if spans else []

    def spans(self, node: Word | Phrase | Near, f: int) -> list[Span]:
        """Every hit span of an atom in a field (the parts of a NEAR's occurrences)."""
        return [part for o in occurrences(node, self.view(f), FIELDS[f]) for part in o[2]]

    def _atom_spans(self, atom: int, f: int) -> list[Span]:
        found = self._spans.get((atom, f))
        if found is None:
            present = self._atom_firsts(atom)[f]
            found = self._spans[(atom, f)] = self.spans(self.plans.atoms[atom], f) if present else []
        return found

    def occurs(self, atom: int) -> bool:
        title, text = self._atom_firsts(atom)
        return bool(title or text)

    def _tree(self, plan: Plan) -> tuple[bool, list[int]]:
        kind, payload = plan
        if kind == "atom":
            value = self.occurs(payload)
            return value, [payload] if value else []
        if kind == "not":
            return not self._tree(payload)[0], []
        results = [self._tree(p) for p in payload]
        if kind == "and":
            if all(value for value, _ in results):
                return True, [a for _, atoms in results for a in atoms]
            return False, []
        return any(value for value, _ in results), [a for value, atoms in results if value for a in atoms]

    def _merged(self, atoms: Sequence[int]) -> dict[str, list[str]]:
        hits: dict[str, list[str]] = {}
        for f in (0, 1):
            entries = [e for a in atoms for e in self._atom_firsts(a)[f]]
            if not entries:
                continue
            if len(atoms) > 1:
                entries.sort()
                seen: set[bytes] = set()
                entries = [e for e in entries if not (e[2] in seen or seen.add(e[2]))]  # type: ignore[func-returns-value]
            view = self.view(f)
            hits[FIELDS[f]] = [view.surface(start, end) for start, end, _ in entries]
        return hits

    def snippet(self, atoms: Sequence[int]) -> str:
        f = 1 if any(self._atom_firsts(a)[1] for a in atoms) else 0
        spans = sorted({s for a in atoms for s in self._atom_spans(a, f)})
        view = self.view(f)
        starts, ends = view.starts_ends
        return make_snippet(view.text, starts, ends, spans)
