"""Stories: exact and near-duplicate articles (the same wire story on several sites) joined.

- Exact duplicates share `content_hash`: the SHA-256 of the normalised text (Unicode NFKC,
  case-folded, words only — punctuation, spacing and case differences do not count).
- Near duplicates are found in two steps. A 64-bit SimHash over word 3-shingles (stored
  signed in `Article.simhash`) picks candidates within `CANDIDATE_BITS` bits among the recent
  articles; each candidate is then confirmed on the texts themselves: the shingle sets must
  overlap (Jaccard ≥ `MIN_JACCARD`, or one text contained in the other for
  ≥ `MIN_CONTAINMENT` of its shingles — the wire story plus a local paragraph). SimHash
  alone at a loose threshold would join unrelated articles on the same topic.
- Texts shorter than `MIN_WORDS` words (teasers, empty extractions) are never deduplicated:
  two different articles with the same one-line summary are not one story.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import operator
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

MIN_WORDS = 40
SHINGLE_WORDS = 3
CANDIDATE_BITS = 14
MIN_JACCARD = 0.5
MIN_CONTAINMENT = 0.8

_WORD = re.compile(r"\w+")
_MASK64 = (1 << 64) - 1


def fingerprint_words(text: str) -> list[str]:
    """Return the words that duplicate detection compares (NFKC-normalised, case-folded)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text or "").casefold())


def normalise_text(text: str) -> str:
    """Return `text` as its words joined by single spaces (what the hashes are taken over)."""
    return " ".join(fingerprint_words(text))


def is_dedupable(text: str) -> bool:
    """Return True when `text` is long enough to be compared with other articles."""
    return len(fingerprint_words(text)) >= MIN_WORDS


def content_hash(text: str, *, salt: str = "") -> str:
    """Return the hex SHA-256 of the normalised text (`salt` makes short texts unique per URL)."""
    return words_hash(fingerprint_words(text), salt=salt)


def words_hash(tokens: list[str], *, salt: str = "") -> str:
    """`content_hash` of a text whose `fingerprint_words()` are already known."""
    return hashlib.sha256((salt + " ".join(tokens)).encode("utf-8")).hexdigest()


def _hash64(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "big")


def shingles(tokens: list[str], size: int = SHINGLE_WORDS) -> set[str]:
    """Return the set of `size`-word shingles of `tokens` (the whole text if shorter)."""
    if len(tokens) < size:
        return {" ".join(tokens)} if tokens else set()
    if size == SHINGLE_WORDS:  # the common case, joined at C speed
        return set(map(" ".join, zip(tokens, tokens[1:], tokens[2:], strict=False)))
    return {" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


# The 8-byte BLAKE2b digest of every shingle, computed by map() chains (no Python-level loop).
_BLAKE2B_64 = functools.partial(hashlib.blake2b, digest_size=8)
_DIGEST = operator.methodcaller("digest")
# _WITHOUT_BIT[k]: the byte values whose bit k is clear (deleted to count those with it set).
_WITHOUT_BIT = [bytes(v for v in range(256) if not v >> k & 1) for k in range(8)]


def simhash(text: str) -> int | None:
    """Return the unsigned 64-bit SimHash of `text`'s word shingles, or None for short texts.

    Bit k is set when more than half of the shingles' 64-bit hashes have bit k set."""
    return simhash_words(fingerprint_words(text))


def simhash_words(tokens: list[str]) -> int | None:
    """`simhash` of a text whose `fingerprint_words()` are already known.

    Digest i, read big-endian, is the 64-bit hash of shingle i. Bit 8·(7 − p) + k of the
    hashes is bit k of their byte p: the hashes with it set are counted at C speed, as the
    length of byte column p with every byte lacking bit k deleted."""
    if len(tokens) < MIN_WORDS:
        return None
    digests = b"".join(map(_DIGEST, map(_BLAKE2B_64, map(str.encode, shingles(tokens)))))
    count = len(digests) // 8
    result = 0
    for position in range(8):
        column = digests[position::8]
        shift = 8 * (7 - position)
        for k, without in enumerate(_WITHOUT_BIT):
            if 2 * len(column.translate(None, without)) > count:
                result |= 1 << (shift + k)
    return result


def to_signed(value: int) -> int:
    """Return the unsigned 64-bit `value` as the signed integer a BIGINT column holds."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    """Return a signed BIGINT SimHash as the unsigned 64-bit value."""
    return value & _MASK64


def hamming(a: int, b: int) -> int:
    """Return the number of differing bits between two 64-bit hashes (signed or not)."""
    return ((a ^ b) & _MASK64).bit_count()


def resemblance(text_a: str, text_b: str) -> tuple[float, float]:
    """Return (Jaccard, containment) of the two texts' shingle sets."""
    a, b = shingles(fingerprint_words(text_a)), shingles(fingerprint_words(text_b))
    if not a or not b:
        return 0.0, 0.0
    common = len(a & b)
    return common / len(a | b), common / min(len(a), len(b))


def is_near_duplicate(text_a: str, text_b: str) -> bool:
    """Return True when two texts tell the same story in (nearly) the same words."""
    jaccard, containment = resemblance(text_a, text_b)
    return jaccard >= MIN_JACCARD or containment >= MIN_CONTAINMENT


@dataclass
class IndexedArticle:
    article_id: int
    simhash: int  # unsigned
    story_id: int | None
    fetched_at: datetime | None = None


class SimhashIndex:
    """Recent articles' SimHashes in memory, for candidate lookup by Hamming distance.

    A linear scan, at C speed (map() over a plain list of ints, ~40 ns per indexed article):
    tens of thousands of recent articles cost about a millisecond per lookup, and the store
    keeps the window bounded: it adds articles fetched within its look-back period and, at
    each refresh, `forget_fetched_before` drops those that have left it.
    """

    def __init__(self) -> None:
        self._entries: list[IndexedArticle] = []
        self._hashes: list[int] = []  # _entries[i].simhash, for the scan
        self.last_article_id = 0

    def __len__(self) -> int:
        return len(self._entries)

    def add(
        self,
        article_id: int,
        simhash_value: int | None,
        story_id: int | None,
        fetched_at: datetime | None = None,
    ) -> None:
        if simhash_value is None:
            return
        value = to_unsigned(simhash_value)
        self._entries.append(IndexedArticle(article_id, value, story_id, fetched_at))
        self._hashes.append(value)
        self.last_article_id = max(self.last_article_id, article_id)

    def add_many(self, rows: Iterable[tuple[int, int | None, int | None, datetime | None]]) -> None:
        for article_id, value, story_id, fetched_at in rows:
            self.add(article_id, value, story_id, fetched_at)

    def candidates(
        self, simhash_value: int, max_bits: int = CANDIDATE_BITS, limit: int = 5
    ) -> list[IndexedArticle]:
        """Return up to `limit` indexed articles within `max_bits`, nearest first."""
        target = to_unsigned(simhash_value)
        distances = list(map(int.bit_count, map(target.__xor__, self._hashes)))
        within = itertools.compress(range(len(distances)), map(max_bits.__ge__, distances))
        near = [(distances[i], self._entries[i]) for i in within]
        near.sort(key=lambda pair: (pair[0], pair[1].article_id))
        return [e for _, e in near[:limit]]

    def forget_fetched_before(self, cutoff: datetime) -> None:
        """Drop entries fetched before `cutoff` (keeps the scan bounded in a long-running worker).
        Entries arrive in id order, which is fetch order, so the oldest is first: a refresh
        with nothing to forget costs one comparison."""
        entries = self._entries
        if not entries or entries[0].fetched_at is None or entries[0].fetched_at >= cutoff:
            return
        self._entries = [e for e in entries if e.fetched_at is None or e.fetched_at >= cutoff]
        self._hashes = [e.simhash for e in self._entries]
