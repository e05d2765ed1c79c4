"""Hostile text against the matcher: pages written to hurt it, beside normal pages of the same size.

1. Collisions: a page of words chosen so that the chunk table's old unkeyed hash (FNV-1a)
   gives them all the same low 16 bits — one probe sequence for all of them, each look-up
   walking the others. The table's hash is keyed per process now, so such a page should cost
   what a normal page of as many distinct words of the same lengths costs (target: ≤ 2×).
2. Size: a 5 MB article of real-looking text, a page of 100,000 distinct words, and 5 MB of
   one repeated word: time and peak memory (tracemalloc) of the decision and of the
   explanations, with the C chunk table and in pure Python, and whether both agree.

Rules: 2,000 generated from a fixed vocabulary (no ../shared needed); every figure is CPU time
of this process.
"""

from __future__ import annotations

import gc
import itertools
import random
import string
import time
import tracemalloc

FNV_OFFSET, FNV_PRIME, BITS = 1469598103934665603, 1099511628211, 16
VOCABULARY = (
    "orbit station crew launch module cargo engine thruster budget agency panel review contract vehicle "
    "mission rocket payload docking antenna solar array battery telemetry schedule milestone deorbit "
    "roscosmos nasa esa spacex soyuz progress starliner dragon capsule parachute booster landing"
).split()


def fnv_colliding_words(count: int) -> list[str]:
    """Return up to `count` six-letter words whose FNV-1a hashes share their low 16 bits.

    The low bits of FNV-1a depend only on the low bits of its state, and each step is a
    bijection on them: so for every two-letter suffix, the state a four-letter prefix must
    reach is computed backwards from the target, and looked up among all prefixes."""
    mask = (1 << BITS) - 1
    inverse = pow(FNV_PRIME & mask, -1, 1 << BITS)
    by_state: dict[int, list[str]] = {}
    for letters in itertools.product(string.ascii_lowercase, repeat=4):
        h = FNV_OFFSET & mask
        for ch in letters:
            h = ((h ^ ord(ch)) * FNV_PRIME) & mask
        by_state.setdefault(h, []).append("".join(letters))
    target, words = 0x2A2A, []
    for suffix in itertools.product(string.ascii_lowercase, repeat=2):
        state = target
        for ch in reversed(suffix):
            state = ((state * inverse) & mask) ^ ord(ch)
        words.extend(prefix + "".join(suffix) for prefix in by_state.get(state, []))
        if len(words) >= count:
            break
    return words[:count]


def _rules(rng: random.Random, count: int = 2000) -> list[dict]:
    rules = []
    for index in range(count):
        a, b = rng.sample(VOCABULARY, 2)
        form = index % 4
        query = (a, f"{a}*", f'"{a} {b}"', f"{a} AND NOT {b}")[form]
        rules.append({"name": f"r{index}", "query": query})
    return rules


def _cpu(function) -> tuple[float, object]:
    gc.collect()
    started = time.process_time()
    result = function()
    return time.process_time() - started, result


def bench_collisions() -> None:
    from alerts.rules.compiled import compile_rules

    rng = random.Random(7)
    rules = _rules(rng)
    crafted_words = fnv_colliding_words(4000)
    normal_words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(6)) for _ in crafted_words]
    crafted, normal = " ".join(crafted_words), " ".join(normal_words)
    print(
        f"collisions: {len(crafted_words):,} words with one FNV-1a low-16-bit hash vs "
        f"{len(normal_words):,} random six-letter words ({len(crafted):,} characters each)"
    )
    figures = {}
    for name, page in (("normal", normal), ("crafted", crafted)):
        compiled = compile_rules(rules)  # a fresh lexicon: every word is new to it
        first, _ = _cpu(lambda c=compiled, p=page: c.match_names("", p))
        again, _ = _cpu(lambda c=compiled, p=page: [c.match_names("", p) for _ in range(5)])
        figures[name] = (first, again / 5)
        print(f"  {name:>7}: first look {first * 1e3:7.1f} ms, known words {again / 5 * 1e3:7.1f} ms")
    ratio = max(figures["crafted"][i] / figures["normal"][i] for i in (0, 1))
    print(f"  crafted / normal: {ratio:.2f}x (target ≤ 2x)")


def _article_of_size(rng: random.Random, characters: int) -> str:
    words = []
    size = 0
    while size < characters:
        sentence = " ".join(rng.choice(VOCABULARY) for _ in range(12)).capitalize() + ". "
        words.append(sentence)
        size += len(sentence)
    return "".join(words)


def bench_sizes() -> None:
    from alerts.rules import lexicon
    from alerts.rules.compiled import compile_rules

    rng = random.Random(11)
    rules = _rules(rng)
    distinct = " ".join(f"w{n:06d}x" for n in range(100_000))
    pages = {
        "5 MB article": _article_of_size(rng, 5_000_000),
        "100,000 distinct words": distinct,
        "5 MB of one word": "deorbit " * 625_000,
    }
    backends = [("C chunk table", True)] if lexicon._scan is not None else []
    backends.append(("pure Python", False))
    answers: dict[str, list] = {}
    for label, page in pages.items():
        print(f"{label} ({len(page):,} characters):")
        for backend, use_c in backends:
            lexicon.USE_C_SCAN = use_c
            try:
                compiled = compile_rules(rules)
                tracemalloc.start()
                decide, names = _cpu(lambda c=compiled, p=page: c.match_names("Title", p))
                explain, matches = _cpu(lambda c=compiled, p=page: c.match("Title", p))
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            finally:
                lexicon.USE_C_SCAN = True
            answers.setdefault(label, []).append((names, [(m.rule, m.hits) for m in matches]))
            print(
                f"  {backend:>13}: decision {decide:6.2f} s, with hits {explain:6.2f} s, "
                f"peak {peak / 2**20:6.1f} MiB, {len(names)} rules matched"
            )
        same = all(answer == answers[label][0] for answer in answers[label])
        print(f"  same answers from every backend: {'yes' if same else 'NO'}")


def main() -> None:
    bench_collisions()
    bench_sizes()


if __name__ == "__main__":
    main()
