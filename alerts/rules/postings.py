"""The C decision's postings: for each key id, the rules it posts to, in one int32 pool.

A rule is entered under each key of its trigger group (`alerts.rules.compiled`) as a code,
2 * index for a rule the key decides by itself, 2 * index + 1 for a rule it makes a candidate.
Why one pool: the decision looks up a few hundred keys an article, and a separate bytes object
per key was one more fetch from far in memory each (alerts/rules/_decide.c reads `at` and
`pool` as int32 buffers).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable


class Postings:
    """`pool[at[id]]` is how many codes key `id` has and the codes follow; at[id] is -1 for a
    key with none. Changed by appending (`put`): a key's old codes stay in the pool unread, so a
    copy (`copy`) is cheap and whoever reads the original is never disturbed."""

    __slots__ = ("at", "pool")

    def __init__(self, codes: dict[int, list[int]] | None = None) -> None:
        self.at = array("i")
        self.pool = array("i")
        for id_, found in (codes or {}).items():
            self.put(id_, found)

    def codes(self, id_: int) -> list[int]:
        if id_ >= len(self.at) or self.at[id_] < 0:
            return []
        start = self.at[id_]
        return list(self.pool[start + 1 : start + 1 + self.pool[start]])

    def put(self, id_: int, codes: Iterable[int]) -> None:
        """Give key `id_` these codes (none: it posts to no rule)."""
        codes = list(codes)
        if id_ >= len(self.at):
            self.at.extend([-1] * (id_ + 1 - len(self.at)))
        if not codes:
            self.at[id_] = -1
            return
        self.at[id_] = len(self.pool)
        self.pool.append(len(codes))
        self.pool.extend(codes)

    def copy(self) -> Postings:
        new = Postings()
        new.at, new.pool = array("i", self.at), array("i", self.pool)
        return new
