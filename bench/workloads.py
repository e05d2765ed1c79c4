"""Deterministic matcher workloads drawn from the real pages in ../shared/realworld/articles.

Every rule set is generated (seeded) from the vocabulary of the ground-truth bodies, so the
figures are repeatable and nothing large is kept in the repository. Three mixes:

- `typical`: every form of the query language, 10% of the rules built from the corpus' words
  and the rest from look-alike words it lacks: most rules of a deployment do not match most
  articles (~23 matches per article at 10,000 rules).
- `heavy`: the desk of issue 13: words, phrases, `prefix* AND NOT word` and `(a OR b) AND c`,
  every one from the corpus' words (~250 matches per article at 10,000 rules).
- `every_form`: every form of the language, all from the corpus' words (~225 matches).

Articles cycle through the bodies with variations (paragraphs rotated, words re-cased, a few
words swapped, numbers added), so no two are identical.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SEED = 20261126
SHARED = Path(__file__).resolve().parents[2] / "shared"
GROUND_TRUTH = SHARED / "realworld" / "articles" / "ground-truth.json"


def load_bodies() -> list[str] | None:
    """The ground-truth article bodies, or None when ../shared is absent."""
    if not GROUND_TRUTH.exists():
        return None
    data = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
    return [entry["articleBody"] for entry in data.values() if entry.get("articleBody")]


def skip_message() -> str:
    return f"skipped: {GROUND_TRUTH} is absent (the real-world pages live in ../shared)"


@dataclass
class Vocabulary:
    """What rules are drawn from: content words, sentences (for phrases), acronyms."""

    content: list[str]
    sentences: list[list[str]]
    common: set[str]
    acronyms: list[str]


def vocabulary(bodies: list[str]) -> Vocabulary:
    from alerts.rules.text import tokenize

    counts: Counter[str] = Counter()
    surfaces: dict[str, str] = {}
    sentences: list[list[str]] = []
    acronyms: set[str] = set()
    for body in bodies:
        for sentence in re.split(r"[.!?\n]+", body):
            words = [m.group() for m in tokenize(sentence)]
            if len(words) >= 3:
                sentences.append(words)
            for word in words:
                key = word.lower()
                counts[key] += 1
                surfaces.setdefault(key, word)
                if word.isupper() and 2 <= len(word) <= 6 and word.isalpha():
                    acronyms.add(word)
    common = {w for w, _ in counts.most_common(300)}
    acronyms = {a for a in acronyms if a.lower() not in common and counts[a.lower()] < 50}
    content = sorted(surfaces[w] for w in counts if len(w) >= 4 and w not in common and w.isalpha())
    return Vocabulary(content, sentences, common, sorted(acronyms) or ["NASA"])


def make_articles(
    bodies: list[str], count: int, rng: random.Random, words: list[str]
) -> list[tuple[str, str]]:
    """Return `count` (title, text) pairs: the bodies cycled, each copy varied a little."""
    articles = []
    for index in range(count):
        body = bodies[index % len(bodies)]
        paragraphs = [p for p in body.split("\n") if p.strip()]
        turn = (index // len(bodies)) % max(1, len(paragraphs))
        paragraphs = paragraphs[turn:] + paragraphs[:turn]
        pieces = "\n".join(paragraphs).split(" ")
        for _ in range(max(1, len(pieces) // 50)):
            position = rng.randrange(len(pieces))
            choice = rng.random()
            if choice < 0.4:
                pieces[position] = pieces[position].upper()
            elif choice < 0.8:
                pieces[position] = rng.choice(words)
            else:
                pieces[position] = f"{pieces[position]} {rng.randint(1, 99_999)}"
        text = " ".join(pieces)
        title = " ".join(text.split()[:12])
        articles.append((title, text))
    return articles


def _absent(word: str, rng: random.Random) -> str:
    """Return a word like `word` (same script, similar length) that the corpus does not have."""
    letters = [c for c in word if c.isalpha()] or ["q"]
    return word + "".join(rng.choice(letters) for _ in range(3)) + "q"


class _Terms:
    """Makers of query terms from a vocabulary."""

    def __init__(self, vocab: Vocabulary, rng: random.Random) -> None:
        self.vocab, self.rng = vocab, rng

    def word(self) -> str:
        return self.rng.choice(self.vocab.content)

    def prefix(self) -> str:
        w = self.word()
        return w[: max(4, len(w) - 3)] + "*"

    def phrase(self) -> str:
        # Phrases people watch for name something: at least one word is not a common one.
        rng, common = self.rng, self.vocab.common
        while True:
            sentence = rng.choice(self.vocab.sentences)
            size = rng.choice((2, 2, 3))
            start = rng.randrange(max(1, len(sentence) - size + 1))
            words = sentence[start : start + size]
            if any(len(w) >= 4 and w.lower() not in common for w in words):
                return '"' + " ".join(words) + '"'

    def term(self) -> str:
        return self.rng.choice((self.word, self.word, self.word, self.prefix, self.phrase))()


def _every_form(t: _Terms) -> list[tuple[int, Callable[[], str]]]:
    rng = t.rng
    return [
        (25, t.word),
        (10, t.prefix),
        (15, t.phrase),
        (8, lambda: f"{t.term()} AND {t.term()}"),
        (8, lambda: f"({t.term()} OR {t.term()}) AND {t.term()}"),
        (5, lambda: f"{t.term()} {t.term()} NOT {t.word()}"),
        (5, lambda: f"title:{t.word()} OR {t.term()} OR {t.term()}"),
        (4, lambda: f"text:({t.word()} OR {t.prefix()}) AND NOT title:{t.word()}"),
        (10, lambda: f"{t.word()} NEAR/{rng.randint(2, 10)} {t.term()}"),
        (5, lambda: f"={rng.choice(t.vocab.acronyms)} AND {t.term()}"),
        (5, lambda: " OR ".join(t.term() for _ in range(rng.randint(3, 6)))),
    ]


def _desk(t: _Terms) -> list[tuple[int, Callable[[], str]]]:
    """The broad desk of issue 13: words, phrases, `prefix* AND NOT word`, `(a OR b) AND c`."""
    return [
        (1, t.word),
        (1, t.phrase),
        (1, lambda: f"{t.prefix()} AND NOT {t.word()}"),
        (1, lambda: f"({t.word()} OR {t.word()}) AND {t.word()}"),
    ]


def make_rules(bodies: list[str], count: int, mix: str, seed: int = SEED) -> list[dict]:
    """Return `count` rules {name, query} of a mix: "typical", "heavy" or "every_form"."""
    rng = random.Random(f"{seed}-{mix}-{count}")
    terms = _Terms(vocabulary(bodies), rng)
    makers = _desk(terms) if mix == "heavy" else _every_form(terms)
    corpus_share = 0.1 if mix == "typical" else 1.0
    weights = [w for w, _ in makers]
    functions = [f for _, f in makers]
    rules = []
    for index in range(count):
        query = rng.choices(functions, weights)[0]()
        if rng.random() >= corpus_share:
            query = re.sub(r'(?<![\w=])(\w{4,})(?=[\s*")]|$)', lambda m: _absent(m.group(1), rng), query)
        rules.append({"name": f"rule-{index}", "query": query})
    return rules


def articles_for(bodies: list[str], count: int, seed: int = SEED) -> list[tuple[str, str]]:
    """`count` varied articles (the same ones whatever the rule set)."""
    rng = random.Random(f"{seed}-articles")
    return make_articles(bodies, count, rng, vocabulary(bodies).content)


def rules_yaml(rules: list[dict]) -> str:
    """The rules as a rules.yaml document (one flow mapping per rule, as people write them)."""
    lines = ["rules:"]
    for rule in rules:
        lines.append(f"  - name: {rule['name']}")
        lines.append(f"    query: {json.dumps(rule['query'], ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def articles_jsonl(articles: list[tuple[str, str]]) -> str:
    return "".join(
        json.dumps({"id": i, "title": title, "text": text}, ensure_ascii=False) + "\n"
        for i, (title, text) in enumerate(articles)
    )
