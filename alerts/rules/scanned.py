"""One article as the compiled matcher sees it: its fields split once, the slower views built
only when a rule asks for them (`alerts.rules.compiled` makes one per article)."""

from __future__ import annotations

from typing import Any

from alerts.rules.lexicon import _scan
from alerts.rules.text import ScannedText


class ScannedArticle:
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
        "ids",
        "views",
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
        # Per field: the ids of its words in order (packed int32, from the C chunk table's scan).
        self.ids: tuple[bytes | None, bytes | None] = (None, None)
        # Per field: what the C table's view gives, when the scan made it in its own pass.
        self.views: list[tuple[bytes, bytes | None, bytes] | None] = [None, None]

    def word_positions(self, f: int, word: bytes) -> list[int] | None:
        """The positions of a plain NEAR word in the field, from the ids of its words the C chunk
        table's scan gave (one pass in C), or None where it cannot tell."""
        ids, index = self.ids[f], self.word_ids.get(word)
        if ids is None or index is None:
            return None
        return _scan.places(ids, index)

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

    def offsets(self, f: int) -> Any:
        """Start and end (characters in the field's text) of each word, flat, from the C chunk
        table; None where it cannot tell (the caller uses the word regex)."""
        made, table = self.views[f], self.tables[f]
        if made is not None:  # the scan's own pass made them
            found = made[1]
        else:
            found = None if table is None else table.offsets(self.scans[f].data)
        return None if found is None else memoryview(found).cast("i")

    def view(self, f: int) -> tuple[bytes, Any, bytes] | None:
        """The field's folded words joined, their offsets (None: the caller uses the word regex)
        and where each of its keys first occurs (by key id, as alerts/rules/_firsts.h lays it
        out), in one pass of the C chunk table; None where there is no table or it cannot tell."""
        table, made = self.tables[f], self.views[f]
        if made is None and table is not None:
            made = table.view(self.scans[f].data)
        if made is None:
            return None
        joined, offsets, firsts = made
        self.built[f] = joined
        return joined, None if offsets is None else memoryview(offsets).cast("i"), firsts

    def joined(self, f: int) -> bytes:
        """b" w1 w2 … wn ": the field's folded words (from the C chunk table when there is one)."""
        found = self.built[f]
        if found is None and self.views[f] is not None:
            found = self.built[f] = self.views[f][0]  # type: ignore[index]
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
            found = positional.occurs(self, 0) or positional.occurs(self, 1)
            self._cache[key] = found
        return found
