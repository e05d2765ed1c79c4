"""Explanations from the matcher's own split of the article: hits and snippets, no second pass.

What a match's hits are is defined by the plain evaluator (`alerts.rules.reference`): the
occurrences, per field, of the words, phrases and NEARs that made the rule true (all parts of a
true AND, the true parts of an OR, nothing under a NOT); each distinct folded form is listed
once, as first written, in order of first occurrence; the snippet marks the occurrences around
the first one. The same is computed here from the words the compiled matcher has already split
(`ScannedArticle`): each field's folded words, their offsets in the text and where each rule
key first occurs (noted by the C chunk table's scan; without it, the word regex and each
distinct word's first position).

The rules matched on one article share that work. Each atom (word, prefix, phrase, NEAR) of the
compiled rules is numbered once (`alerts.rules.atoms.ExplainPlans`); per article an atom's hits
are worked out once and kept as the first occurrence of each distinct folded form it hit
(start, end, form — with the form left out where the C code made it: an entry's span stands for
its form), so a rule's hits are a merge of the few entries of its true atoms. Snippets are made
only when read.

With the C chunk table, the loop over the matched rules of flat plans (nearly all) runs in
`alerts.rules._explain`, reading the rules by index (`FlatPlans`), and so do the snippets' window
and text (`_snippets.c`); this module keeps the same in Python (the reference for them, and the
path where they were not built) and the rarer shapes: exact words, NEAR, and rules whose plan is
a tree.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING

from alerts.rules.atoms import GENERIC, PHRASE, PREFIX, WORD, ExplainPlans, FlatPlans, Plan
from alerts.rules.explanations import SNIPPET_AFTER, RuleMatch, make_snippet
from alerts.rules.fieldview import FieldView, First, Span, firsts_of, occurrences
from alerts.rules.text import word_places
from alerts.rules.tree import FIELDS, Near, Phrase, Word

if TYPE_CHECKING:
    from alerts.rules.scanned import ScannedArticle

try:  # the same loop over the matched rules in C (optional, like the chunk table)
    from alerts.rules import _explain
except ImportError:  # not built: Python does it
    _explain = None  # type: ignore[assignment]


class ArticleHits:
    """Explains the rules matched on one article, each atom worked out once."""

    __slots__ = (
        "texts",
        "scanned",
        "plans",
        "_views",
        "_firsts",
        "_spans",
        "_hits",
        "_surfaces",
        "_snippets",
        "_firsts_of",
    )

    def __init__(self, title: str, text: str, scanned: ScannedArticle, plans: ExplainPlans) -> None:
        self.texts = (title, text)
        self.scanned = scanned
        self.plans = plans
        self._views: list[FieldView | None] = [None, None]
        # Per field: atom -> the first occurrence of each distinct form it hits there.
        self._firsts: tuple[dict[int, list[First]], dict[int, list[First]]] = ({}, {})
        self._spans: dict[tuple[int, int], list[Span]] = {}
        # The hits of a set of true atoms (most rules matched on an article share a few).
        self._hits: dict[tuple[int, ...], dict[str, list[str]]] = {}
        self._surfaces: tuple[dict[tuple[int, int], str], dict[tuple[int, int], str]] = ({}, {})
        self._snippets: dict[tuple[int, tuple[Span, ...]], str] = {}  # rules that mark the same words
        # Per field: where its keys first occur, by key id (the C table's view), or None.
        self._firsts_of: list[bytes | None] = [None, None]

    def view(self, f: int) -> FieldView:
        found = self._views[f]
        if found is None:
            scanned = self.scanned
            made = scanned.view(f)  # the C chunk table's words, offsets and first positions
            self._firsts_of[f] = made[2] if made else None
            found = self._views[f] = FieldView(
                self.texts[f],
                made[0] if made else scanned.joined(f),
                lambda: scanned.offsets(f),
                lambda: scanned.sequence(f, True),
                offsets=made[1] if made else None,
            )
        return found

    def explain(self, rules: list[tuple[str, Plan]]) -> list[RuleMatch]:
        """The RuleMatch of each (name, plan) of the rules that matched, in that order (the
        Python decision's way; the C decision's is `explain_indexes`)."""
        if _explain is not None and self.plans.indexed:
            return self._explain_in_c(rules)
        title_keys, text_keys = self.scanned.words
        keys, masks = self.plans.keys, self.plans.masks
        occurs, snippet = self.occurs, self.snippet
        out = []
        for name, (kind, payload) in rules:
            if kind != "flat":
                true: tuple[int, ...] = tuple(dict.fromkeys(self._tree((kind, payload))[1]))
            elif len(payload) == 1:  # the one positive atom of a rule that matched
                true = payload
            else:
                found = []
                for a in payload:
                    key = keys[a]
                    if key is None:
                        if occurs(a):
                            found.append(a)
                    elif (masks[a] & 1 and key in title_keys) or (masks[a] & 2 and key in text_keys):
                        found.append(a)
                true = tuple(found)
            out.append(RuleMatch(name, self._hits_of(true), true, snippet))
        return out

    def explain_indexes(
        self, indexes: bytes, flat: FlatPlans, names: list, explained: list
    ) -> list[RuleMatch]:
        """`explain` of the rules at `indexes` (packed int32, as the C decision gives them):
        with every plan flat (nearly always), the whole loop in `alerts.rules._explain`, which
        reads the rules' atoms from `flat` and their names from `names`."""
        if _explain is not None and self.plans.indexed:
            plans = self.plans
            made = _explain.rule_hits(
                indexes, flat.at, flat.atoms, names, (plans.needles, plans.keys, plans.infos),
                self._field(0), self._field(1), self._hits, self._field_firsts, (RuleMatch, self.snippet),
            )  # fmt: skip
            if made is not None:
                return made  # type: ignore[no-any-return]
        return self.explain([explained[i] for i in memoryview(indexes).cast("i")])

    def _explain_in_c(self, rules: list[tuple[str, Plan]]) -> list[RuleMatch]:
        """`explain` with the flat plans done by `alerts.rules._explain` (the same true atoms and
        hits, from the same caches) and the trees here."""
        plans, snippet = self.plans, self.snippet
        flat = [payload for _, (kind, payload) in rules if kind == "flat"]
        lists = (plans.needles, plans.keys, plans.infos)
        pairs = iter(
            _explain.hits(flat, lists, self._field(0), self._field(1), self._hits, self._field_firsts)
        )
        out = []
        for name, plan in rules:
            if plan[0] == "flat":
                true, hits = next(pairs)
            else:
                true = tuple(dict.fromkeys(self._tree(plan)[1]))
                hits = self._hits_of(true)
            out.append(RuleMatch(name, hits, true, snippet))
        return out

    def _field(self, f: int) -> tuple:
        """What `alerts.rules._explain` reads of field `f`."""
        view = self.view(f)
        firsts = self._firsts_of[f]
        return (self.scanned.words[f], view.first if firsts is None else firsts, view.joined, view.text,
                view.offsets, view.surface, FIELDS[f], self._firsts[f], view.sorted_words)  # fmt: skip

    def _hits_of(self, true: tuple[int, ...]) -> dict[str, list[str]]:
        """The hits of a rule whose true atoms are `true` (shared by the rules of the same)."""
        hits = self._hits.get(true)
        if hits is None:
            hits = self._hits[true] = self._word_hits(true[0]) if len(true) == 1 else self._merged(true)
        return hits

    def _word_hits(self, atom: int) -> dict[str, list[str]]:
        """The hits of one atom; for a plain word (most atoms), its first occurrence per field
        straight from the field's first positions."""
        plans = self.plans
        if plans.kinds[atom] != WORD:
            return self._merged((atom,))
        hits: dict[str, list[str]] = {}
        word, mask, keys = plans.needles[atom], plans.masks[atom], self.scanned.words
        for f in (0, 1):
            if mask & (1 << f) and word in keys[f]:
                view = self.view(f)
                position = view.first.get(word)
                if position is not None:
                    hits[FIELDS[f]] = [self._surface(f, position, position)]
        return hits

    def _surface(self, f: int, start: int, end: int) -> str:
        """The words start..end of field `f` as written (each span made once per article)."""
        surfaces = self._surfaces[f]
        found = surfaces.get((start, end))
        if found is None:
            found = surfaces[(start, end)] = self.view(f).surface(start, end)
        return found

    def _entries(self, atom: int, f: int) -> list[First]:
        """The first occurrence of each distinct form the atom hits in field `f`."""
        found = self._firsts[f].get(atom)
        if found is None:
            plans = self.plans
            key = plans.keys[atom]
            if not plans.masks[atom] & (1 << f):
                found = []
            elif key is not None and key not in self.scanned.words[f]:
                found = []  # the matcher's key sets say it does not occur there
            else:
                found = self._field_firsts(atom, f)
            self._firsts[f][atom] = found
        return found

    def _field_firsts(self, atom: int, f: int) -> list[First]:
        plans = self.plans
        kind, needle = plans.kinds[atom], plans.needles[atom]
        firsts, key_id = self._firsts_of[f], plans.infos[2 * atom]
        if firsts is not None and key_id >= 0 and kind != GENERIC and _explain is not None:
            return _explain.noted(firsts, key_id, plans.infos[2 * atom + 1])  # type: ignore[no-any-return]
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
        return firsts_of(sorted(set(spans)), self.view(f)) if spans else []

    def spans(self, node: Word | Phrase | Near, f: int) -> list[Span]:
        """Every hit span of an atom in a field (the parts of a NEAR's occurrences)."""
        return [part for o in occurrences(node, self.view(f), FIELDS[f]) for part in o[2]]

    def _atom_spans(self, atom: int, f: int) -> list[Span]:
        """Every span of an atom in field `f` (what a snippet marks). A word, prefix or phrase of
        plain words is each place its needle is in the joined words (`word_places`, one C call);
        the others are the reference's occurrences."""
        found = self._spans.get((atom, f))
        if found is None:
            if not self._entries(atom, f):
                found = []
            elif (kind := self.plans.kinds[atom]) in (WORD, PREFIX, PHRASE):
                needle, joined = self.plans.needles[atom], self.view(f).joined
                if kind == WORD:
                    found = [(p, p) for p in word_places(joined, b" " + needle + b" ")]
                elif kind == PREFIX:
                    found = [(p, p) for p in word_places(joined, b" " + needle)]
                else:  # b" w1 … wn ": n words from each place
                    last = needle.count(b" ") - 2
                    found = [(p, p + last) for p in word_places(joined, needle)]
            else:
                found = self.spans(self.plans.atoms[atom], f)
            self._spans[(atom, f)] = found
        return found

    def occurs(self, atom: int) -> bool:
        return bool(self._entries(atom, 0) or self._entries(atom, 1))

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
        entries_of = self._entries
        for f in (0, 1):
            entries: list[First] = []
            parts = 0
            for a in atoms:
                found = entries_of(a, f)
                if found:
                    entries += found
                    parts += 1
            if not entries:
                continue
            if parts > 1:  # one atom's entries are sorted and each form is there once
                # A form is the folded words at the span (the C hits leave the forms out); an
                # exact word's entry may be a later occurrence of another atom's form.
                view, seen, kept = self.view(f), set(), []
                for start, end, _ in sorted(entries, key=lambda e: (e[0], e[1])):
                    form = view.form(start, end)
                    if form not in seen:
                        seen.add(form)
                        kept.append((start, end, form))
                entries = kept
            hits[FIELDS[f]] = [self._surface(f, start, end) for start, end, _ in entries]
        return hits

    def snippet(self, atoms: Sequence[int] | bytes) -> str:
        """The snippet of a match whose true atoms are `atoms` (packed int32 where the C loop
        made the match)."""
        if isinstance(atoms, bytes):
            atoms = memoryview(atoms).cast("i")
        f = 1 if any(self._entries(a, 1) for a in atoms) else 0
        view = self.view(f)
        kinds = self.plans.kinds
        if all(kinds[a] in (WORD, PREFIX) for a in atoms):
            spans = self._spans_in_window(atoms, f, view)
        else:
            spans = sorted({s for a in atoms for s in self._atom_spans(a, f)})
        key = (f, tuple(spans))
        found = self._snippets.get(key)
        if found is None:
            offsets = view.offsets
            if self.plans.indexed and _explain is not None and isinstance(offsets, memoryview):
                found = _explain.snippet(view.text, offsets, spans)  # the same, in C
            else:
                starts, ends = view.starts_ends
                found = make_snippet(view.text, starts, ends, spans)
            self._snippets[key] = found
        return found

    def _spans_in_window(self, atoms: Sequence[int], f: int, view: FieldView) -> list[Span]:
        """The spans `make_snippet` marks, for atoms that are single words (or prefixes): the
        words of the atoms from the first one's position to SNIPPET_AFTER words later. Spans
        after that window are never shown; none comes before the first."""
        firsts = [e[0] for a in atoms for e in self._entries(a, f)[:1]]
        if not firsts:
            return []
        low = min(firsts)
        if self.plans.indexed and _explain is not None:  # the window's words compared in C
            kinds, needles = self.plans.kinds, self.plans.needles
            wanted = [(needles[a], kinds[a] == PREFIX) for a in atoms if self._entries(a, f)]
            return _explain.window(view.words, low, wanted)
        high = min(len(view.words) - 1, low + SNIPPET_AFTER)
        needles, plans = self.plans.needles, self.plans
        found: set[int] = set()
        for a in atoms:
            if not self._entries(a, f):
                continue
            words = [needles[a]] if plans.kinds[a] == WORD else view.starting(needles[a])
            for word in words:
                positions = view.positions(word)
                found.update(positions[bisect_left(positions, low) : bisect_right(positions, high)])
        return [(i, i) for i in sorted(found)]
