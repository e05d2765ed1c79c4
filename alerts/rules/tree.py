"""The query tree: words, phrases, NEAR, AND / OR / NOT, field scopes, and what is required.

`alerts.rules.query` builds it from a rule's text; the matcher, the plain evaluator and archive
search walk it. `str(node)` writes a node back in the query language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Field = Literal["title", "text"]
FIELDS: tuple[Field, ...] = ("title", "text")


@dataclass(frozen=True)
class Word:
    """One word (`key` folded, or accent-free with case kept when `exact`), maybe a prefix."""

    key: str
    prefix: bool = False
    exact: bool = False
    field: Field | None = None
    surface: str = ""
    column: int = 0

    def __str__(self) -> str:
        return _scoped(self.field, ("=" if self.exact else "") + self.key + ("*" if self.prefix else ""))


@dataclass(frozen=True)
class Phrase:
    """Consecutive words in one field."""

    words: tuple[Word, ...]
    field: Field | None = None
    column: int = 0

    def __str__(self) -> str:
        exact = all(w.exact for w in self.words)
        inner = " ".join(
            ("" if exact or not w.exact else "=") + w.key + ("*" if w.prefix else "") for w in self.words
        )
        return _scoped(self.field, ("=" if exact else "") + f'"{inner}"')


@dataclass(frozen=True)
class Near:
    """Both sides within `distance` words (words strictly between them), either order."""

    left: Node
    right: Node
    distance: int
    column: int = 0

    def __str__(self) -> str:
        return f"({self.left} NEAR/{self.distance} {self.right})"


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Not:
    child: Node

    def __str__(self) -> str:
        return f"NOT {self.child}"


Node = Word | Phrase | Near | And | Or | Not
Atom = Word | Phrase | Near


def _scoped(scope: Field | None, text: str) -> str:
    return f"{scope}:{text}" if scope else text


@dataclass(frozen=True)
class Query:
    """A parsed query: the source text and its tree."""

    text: str
    root: Node
    atoms: tuple[Atom, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        text = str(self.root)
        return text[1:-1] if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]) else text


def _balanced(text: str) -> bool:
    depth = 0
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def is_positional(node: Node) -> bool:
    """True for what may stand beside NEAR: words, phrases, NEARs and ORs of those."""
    if isinstance(node, Word | Phrase | Near):
        return True
    return isinstance(node, Or) and all(is_positional(child) for child in node.children)


def required_atoms(node: Node, negated: bool = False) -> list[Atom] | None:
    """Return atoms at least one of which must be present for `node` to be true, or None when
    `node` can be true with none of its words present (it only excludes)."""
    if isinstance(node, Word | Phrase | Near):
        return None if negated else [node]
    if isinstance(node, Not):
        return required_atoms(node.child, not negated)
    # NOT (a AND b) is NOT a OR NOT b, and NOT (a OR b) is NOT a AND NOT b.
    if isinstance(node, Or) != negated:
        out: list[Atom] = []
        for child in node.children:
            found = required_atoms(child, negated)
            if found is None:
                return None
            out.extend(found)
        return out
    options = [found for child in node.children if (found := required_atoms(child, negated)) is not None]
    if not options:
        return None
    return min(options, key=lambda atoms: (len(atoms), -sum(_weight(a) for a in atoms)))


def _weight(atom: Atom) -> int:
    """A guess of how selective an atom is (longer, non-prefix words occur less often)."""
    if isinstance(atom, Word):
        return len(atom.key) - (3 if atom.prefix else 0)
    if isinstance(atom, Phrase):
        return max(_weight(w) for w in atom.words) + 2
    return max(_weight(a) for a in _near_atoms(atom))


def _near_atoms(node: Node) -> list[Atom]:
    if isinstance(node, Near):
        return _near_atoms(node.left) + _near_atoms(node.right)
    if isinstance(node, Or):
        return [a for child in node.children for a in _near_atoms(child)]
    return [node]  # type: ignore[list-item]


def atoms_of(node: Node) -> list[Atom]:
    """Return every atom (word, phrase, NEAR) of the tree, left to right."""
    if isinstance(node, Word | Phrase | Near):
        return [node]
    if isinstance(node, Not):
        return atoms_of(node.child)
    return [a for child in node.children for a in atoms_of(child)]
