"""The compile plan of a rule: its requirement groups, whether they decide it, and its code.

Each rule has *requirement groups*: sets of keys (`alerts.rules.keys`) of which at least one
per group must occur for the rule to be true (`x AND (y OR z)` → {x}, {y, z}; a phrase needs
its key, or without the C chunk table each of its words; NOT adds none). A rule is looked at
only when all its groups are satisfied.

A rule that is nothing but words, prefixes (and, with the C table, plain phrases) in ANDs of
ORs, in any field, is decided by its groups alone. Any other rule (NEAR, NOT, field scopes,
`=Exact`, phrases with a prefix or an exact word) is evaluated by a small Python function
generated from its tree (`CodeGen`), which calls the per-term checks of `alerts.rules.terms`.
The atoms of the trees tell the lexicon which words, NEAR words and phrases it must know
(`Terms`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from alerts.rules.keys import indexed_key, key_id, word_key
from alerts.rules.terms import FIELD_MASK, PhraseSpec, Positional, WordSpec
from alerts.rules.tree import And, Near, Node, Not, Or, Phrase, Word


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


def requirement_groups(node: Node, negated: bool = False, indexed: bool = False) -> list[frozenset[bytes]]:
    """Return sets of keys, at least one of each must occur for `node` to be true (with
    `indexed`, a phrase the chunk table finds is one key of its own)."""
    if isinstance(node, Word):
        return [] if negated else [frozenset({word_key(node)})]
    if isinstance(node, Phrase):
        if negated:
            return []
        key = indexed_key(node) if indexed else None
        return [frozenset({key})] if key else [frozenset({word_key(w)}) for w in node.words]
    if isinstance(node, Near):
        return [] if negated else requirement_groups(node.left) + requirement_groups(node.right)
    if isinstance(node, Not):
        return requirement_groups(node.child, not negated, indexed)
    if isinstance(node, Or) != negated:  # any one child may be the true one
        union: set[bytes] = set()
        for child in node.children:
            options = requirement_groups(child, negated, indexed)
            if not options:
                return []
            union |= max(options, key=selectivity)
        return [frozenset(union)]
    return [g for child in node.children for g in requirement_groups(child, negated, indexed)]


def minimal_groups(groups: list[frozenset[bytes]]) -> list[frozenset[bytes]]:
    """Drop repeated groups and groups implied by a smaller one."""
    out: list[frozenset[bytes]] = []
    for group in sorted(set(groups), key=len):
        if not any(kept <= group for kept in out):
            out.append(group)
    return out


def selectivity(group: frozenset[bytes]) -> tuple[int, int]:
    """A guess of how rarely a group is hit: few keys, long keys, no prefixes first."""
    return (-len(group), min(len(k) - (4 if k.endswith(b"*") else 0) for k in group))


def decided_by_groups(node: Node, indexed: bool = False) -> bool:
    """True for ANDs of ORs of plain words/prefixes (and, with `indexed`, of the phrases the
    chunk table finds) in both fields: the groups are the rule."""

    def plain(n: Node) -> bool:
        if isinstance(n, Phrase):
            return indexed and n.field is None and indexed_key(n) is not None
        return isinstance(n, Word) and not n.exact and n.field is None

    def disjunction(n: Node) -> bool:
        return plain(n) or (isinstance(n, Or) and all(plain(c) for c in n.children))

    return disjunction(node) or (isinstance(node, And) and all(disjunction(c) for c in node.children))


# The operations of a rule program (`CodeGen.program`), as alerts/rules/_decide.c runs them.
KEY, AND, OR, NOT, CALL = range(5)
Program = tuple


def _calls(program: Program) -> bool:
    """Whether a program calls a lazy check (those go last, after the cheap key look-ups)."""
    if program[0] == CALL:
        return True
    return program[0] != KEY and any(_calls(p) for p in program[1:])


class CodeGen:
    """Turns a rule's tree into one Python expression over T, X (word sets) and a (ScannedArticle),
    or into the same as a program of tuples for the C decision (`alerts.rules._scan.decide`)."""

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
            key = indexed_key(node) if self.indexed else None
            if key is not None:
                return self._in_fields(key, node.field)
            return f"a.phrase({self._add(PhraseSpec(node))}, {FIELD_MASK[node.field]})"
        if isinstance(node, Near):
            return f"a.near({self._add(Positional(node))})"
        if isinstance(node, Not):
            return f"(not {self.expr(node.child)})"
        # Cheap set look-ups first, lazy checks last.
        parts = sorted((self.expr(c) for c in node.children), key=lambda e: "a." in e)
        joiner = " and " if isinstance(node, And) else " or "
        return "(" + joiner.join(parts) + ")"

    def program(self, node: Node) -> Program:
        """`expr` as a tree of tuples: (KEY, key id, field mask), (AND, *children), (OR,
        *children), (NOT, child), (CALL, method of the article, arguments)."""
        if isinstance(node, Word):
            if node.exact:
                return (CALL, "exact", (self._add(WordSpec(node)), FIELD_MASK[node.field]))
            return (KEY, key_id(word_key(node)), FIELD_MASK[node.field])
        if isinstance(node, Phrase):
            key = indexed_key(node) if self.indexed else None
            if key is not None:
                return (KEY, key_id(key), FIELD_MASK[node.field])
            return (CALL, "phrase", (self._add(PhraseSpec(node)), FIELD_MASK[node.field]))
        if isinstance(node, Near):
            return (CALL, "near", (self._add(Positional(node)),))
        if isinstance(node, Not):
            return (NOT, self.program(node.child))
        parts = sorted((self.program(c) for c in node.children), key=_calls)
        return (AND if isinstance(node, And) else OR, *parts)

    def word(self, node: Word) -> str:
        if node.exact:
            return f"a.exact({self._add(WordSpec(node))}, {FIELD_MASK[node.field]})"
        return self._in_fields(word_key(node), node.field)

    @staticmethod
    def _in_fields(key: bytes, field: str | None) -> str:
        if field == "title":
            return f"{key!r} in T"
        if field == "text":
            return f"{key!r} in X"
        return f"({key!r} in X or {key!r} in T)"


@dataclass
class Terms:
    """What the lexicon must know for a set of rules (keys, `alerts.rules.keys`)."""

    vocabulary: set[bytes] = field(default_factory=set)
    prefixes: set[bytes] = field(default_factory=set)
    phrases: set[bytes] = field(default_factory=set)
    near_words: set[bytes] = field(default_factory=set)

    def add(self, root: Node, indexed: bool) -> None:
        """Add what the lexicon must know of a rule, in one walk of its tree: its words and
        prefixes (with `indexed`, not the words of the phrases the chunk table finds by itself,
        outside NEAR, which looks at word positions), those phrases, and the plain words (no
        prefix, no exact case) on the sides of NEARs."""
        vocabulary, prefixes = self.vocabulary, self.prefixes
        for atom, in_near in _atoms(root):
            if isinstance(atom, Word):
                key = word_key(atom)
                (prefixes if atom.prefix else vocabulary).add(key)
                if indexed and in_near and not atom.prefix and not atom.exact:
                    self.near_words.add(key)
                continue
            phrase_key = indexed_key(atom) if indexed else None
            if phrase_key is not None:
                self.phrases.add(phrase_key)
            if in_near or phrase_key is None:
                for word in atom.words:
                    key = word_key(word)
                    (prefixes if word.prefix else vocabulary).add(key)
                    if indexed and in_near and not word.prefix and not word.exact:
                        self.near_words.add(key)

    def covers(self, other: Terms) -> bool:
        return (
            other.vocabulary <= self.vocabulary
            and other.prefixes <= self.prefixes
            and other.phrases <= self.phrases
            and other.near_words <= self.near_words
        )

    def union(self, other: Terms) -> Terms:
        return Terms(
            self.vocabulary | other.vocabulary,
            self.prefixes | other.prefixes,
            self.phrases | other.phrases,
            self.near_words | other.near_words,
        )
