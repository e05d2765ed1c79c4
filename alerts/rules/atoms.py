"""The atoms of the compiled rules and the rules' explanation plans (`alerts.rules.hits`).

Every word, prefix, phrase and NEAR of the compiled rules is numbered once (`ExplainPlans`), with
how its hits are looked for; each rule gets a plan over those numbers, and the rules whose plan
is "flat" (nearly all) have their atoms packed by rule index as well (`FlatPlans`), which is what
the C hits loop (`alerts.rules._explain`) reads.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable

from alerts.rules.keys import indexed_key, key_id, word_key
from alerts.rules.text import encode
from alerts.rules.tree import And, Near, Node, Not, Or, Phrase, Word

GENERIC, WORD, PREFIX, PHRASE = range(4)  # how an atom is looked for (`ExplainPlans.kinds`)
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
        self.kinds = bytearray()  # small ints: one byte per atom (read in C without int objects)
        self.needles: list[bytes] = []
        self.keys: list[bytes | None] = []
        # What alerts.rules._explain reads of each atom, in one place: (its key's id (`key_id`,
        # with `indexed`) or -1, kind | mask << 8).
        self.infos = array("i")
        self.masks = bytearray()
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
        mask = {None: 3, "title": 1, "text": 2}[field]
        self.masks.append(mask)
        extra = len(node.words) - 1 if kind == PHRASE else 0  # type: ignore[union-attr]
        self.infos.extend(
            (key_id(key) if key is not None and self.indexed else -1, kind | mask << 8 | extra << 16)
        )

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


class FlatPlans:
    """Per rule index, the atoms of its flat plan in one int32 pool: `atoms[at[i]]` is their
    count and the ids follow; at[i] is -1 for a rule whose plan is a tree (or no rule). What the
    C hits read instead of each matched rule's tuples, which lie all over memory. Copied, never
    changed in place, when the rules change (`CompiledRules.updated`)."""

    __slots__ = ("at", "atoms")

    def __init__(self) -> None:
        self.at = array("i")
        self.atoms = array("i")

    def put(self, index: int, plan: Plan | None) -> None:
        if index >= len(self.at):
            self.at.extend([-1] * (index + 1 - len(self.at)))
        if plan is None or plan[0] != "flat":
            self.at[index] = -1
            return
        self.at[index] = len(self.atoms)
        self.atoms.append(len(plan[1]))
        self.atoms.extend(plan[1])

    def copy(self) -> FlatPlans:
        new = FlatPlans()
        new.at, new.atoms = array("i", self.at), array("i", self.atoms)
        return new
