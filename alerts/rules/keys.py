"""Rule keys: the bytes a word, a prefix or a plain phrase is found by in an article.

A word's key is its folded form (`b"nasa"`; an exact word's too, checked for its case later), a
prefix's ends in `*` (`b"deorbit*"`), and a phrase of two or more plain words that the C chunk
table finds by itself is its words joined by spaces (`b"space station"`). The compile plan,
the per-term checks and the lexicon all speak in these keys, so they are made here, once each:
one bytes object per distinct key across the compiled rules and the lexicon, so that set and
dict look-ups find a key by identity, without comparing bytes (a memory access fewer).

With the C chunk table, each key also has a small int id (`key_id`), the same in every rule
set of the process: the scan reports an article's keys as ids in a bit set
(`alerts.rules._scan.KeySet`), and the decision and the hits test a rule's keys there by id
(no hashing, no object to fetch per key). Ids are never reused or changed, so a rule set
compiled earlier keeps working beside one compiled later.
"""

from __future__ import annotations

import threading

from alerts.rules.text import encode, fold
from alerts.rules.tree import Phrase, Word

_KEYS: dict[bytes, bytes] = {}
_KEYS_LIMIT = 1_000_000


def canonical(key: bytes) -> bytes:
    if len(_KEYS) > _KEYS_LIMIT:
        return _KEYS.get(key, key)
    return _KEYS.setdefault(key, key)


# id -> key and key -> id (`alerts/rules/_keys.c` reads both; only `key_id` adds to them).
KEY_LIST: list[bytes] = []
KEY_IDS: dict[bytes, int] = {}
_ADDING = threading.Lock()


def key_id(key: bytes) -> int:
    """The key's id, given on first sight (the list is appended to before the dict, so whoever
    finds an id in the dict finds its key in the list)."""
    found = KEY_IDS.get(key)
    if found is None:
        with _ADDING:
            found = KEY_IDS.get(key)
            if found is None:
                key = canonical(key)
                found = len(KEY_LIST)
                KEY_LIST.append(key)
                KEY_IDS[key] = found
    return found


def word_key(word: Word) -> bytes:
    """The folded key a word is found by (exact words: their folded form; prefixes end in *)."""
    key = encode(fold(word.key) if word.exact else word.key)
    return canonical(key + b"*" if word.prefix else key)


def indexed_key(phrase: Phrase) -> bytes | None:
    """The key of a phrase the C chunk table finds by itself (two or more plain words:
    no prefix, no exact case), e.g. b"international space station"; None for other phrases."""
    if len(phrase.words) < 2 or any(w.prefix or w.exact for w in phrase.words):
        return None
    return canonical(b" ".join(encode(w.key) for w in phrase.words))
