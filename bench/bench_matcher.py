"""Matcher benchmark: 10,000 generated rules over 2,000 real article bodies, on one core.

Rules are drawn (seeded) from the words of the real pages in ../shared/realworld/articles:
single words, prefixes, phrases taken from the text, boolean mixes with NOT and field scopes,
NEAR/n, OR lists and exact-case acronyms. Articles cycle through the 102 ground-truth bodies
with variations (paragraphs rotated, words re-cased, a few words swapped, numbers added), so
no two are identical.

Two rule sets: "typical" (10% of the rules built from the corpus' words, the rest from
look-alike words it lacks — most rules of a deployment do not match most articles) and
"heavy" (every rule from the corpus; since each word occurs in at least one of only 102
bodies, every rule matches >= 1% of the articles, ~225 rules per article). Printed per rule
set: compile time, memory of the compiled rules, articles/s for the decision (`match_names`)
and with explanations (`match`); then the word scan alone (the floor), and a naive baseline
(every rule tried on every article with Python regexes) on a sample, in the same run. Rates
are CPU time of this process (one core), so other load on the machine distorts them less.

Targets (issue 13): typical decision >= 10,000 articles/s, heavy with hits >= 2,000 articles/s
on one core; the whole `newswatch match` over 2,000 heavy articles < 3 s; compile < 1 s. The
matcher uses the C extensions of alerts.rules (chunk table and decision, hits) when they were
built (a line also gives the pure-Python figure).
"""

from __future__ import annotations

import gc
import random
import re
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from bench import workloads
from bench.workloads import load_bodies

RULES = 10_000
ARTICLES = 2_000
BASELINE_ARTICLES = 8
SEED = 20261126
GROUND_TRUTH = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "articles" / "ground-truth.json"


def make_articles(bodies: list[str], rng: random.Random, vocabulary: list[str]) -> list[tuple[str, str]]:
    """Return ARTICLES (title, text) pairs: the bodies cycled, each copy varied a little."""
    return workloads.make_articles(bodies, ARTICLES, rng, vocabulary)


def make_rules(
    bodies: list[str], rng: random.Random, corpus_share: float = 1.0, count: int = RULES
) -> tuple[list[dict], list[str]]:
    """Return `count` rules of every kind. A `corpus_share` of them are built from the corpus'
    own words (each of those matches at least the ~1% of articles its words came from); the
    others from look-alike words the corpus does not contain, as most rules of a real
    deployment do not match most articles."""
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
    acronym_list = sorted(acronyms) or ["NASA"]

    def word() -> str:
        return rng.choice(content)

    def prefix() -> str:
        w = word()
        return w[: max(4, len(w) - 3)] + "*"

    def phrase() -> str:
        # Phrases people watch for name something: at least one word is not a common one.
        while True:
            sentence = rng.choice(sentences)
            size = rng.choice((2, 2, 3))
            start = rng.randrange(max(1, len(sentence) - size + 1))
            words = sentence[start : start + size]
            if any(len(w) >= 4 and w.lower() not in common for w in words):
                return '"' + " ".join(words) + '"'

    def term() -> str:
        return rng.choice((word, word, word, prefix, phrase))()

    makers = [
        (25, word),
        (10, prefix),
        (15, phrase),
        (8, lambda: f"{term()} AND {term()}"),
        (8, lambda: f"({term()} OR {term()}) AND {term()}"),
        (5, lambda: f"{term()} {term()} NOT {word()}"),
        (5, lambda: f"title:{word()} OR {term()} OR {term()}"),
        (4, lambda: f"text:({word()} OR {prefix()}) AND NOT title:{word()}"),
        (10, lambda: f"{word()} NEAR/{rng.randint(2, 10)} {term()}"),
        (5, lambda: f"={rng.choice(acronym_list)} AND {term()}"),
        (5, lambda: " OR ".join(term() for _ in range(rng.randint(3, 6)))),
    ]
    weights = [w for w, _ in makers]
    functions = [f for _, f in makers]
    rules = []
    for index in range(count):
        make = rng.choices(functions, weights)[0]
        query = make()
        if rng.random() >= corpus_share:
            query = re.sub(
                r'(?<![\w=])(\w{4,})(?=[\s*")]|$)', lambda m: workloads._absent(m.group(1), rng), query
            )
        rules.append({"name": f"rule-{index}", "query": query})
    return rules, content


# ---------------------------------------------------------------------------- naive baseline


def naive_rules(rules: list[dict]):
    """Every rule as a Python predicate over the lower-cased text, one regex per atom."""
    from alerts.rules.query import parse_query
    from alerts.rules.tree import And, Near, Not, Or, Phrase, Word

    def atom_regex(node) -> str:
        if isinstance(node, Word):
            return r"\b" + re.escape(node.surface.lower()) + (r"\w*" if node.prefix else r"\b")
        if isinstance(node, Phrase):
            parts = [re.escape(w.surface.lower()) + (r"\w*" if w.prefix else "") for w in node.words]
            return r"\b" + r"\W+".join(parts) + r"\b"
        raise TypeError(node)

    def build(node):
        if isinstance(node, Word | Phrase):
            pattern = re.compile(atom_regex(node))
            return lambda text: pattern.search(text) is not None
        if isinstance(node, Near):
            left, right = build_positional(node.left), build_positional(node.right)
            near = re.compile(
                rf"(?:{left})\W+(?:\w+\W+){{0,{node.distance}}}(?:{right})"
                rf"|(?:{right})\W+(?:\w+\W+){{0,{node.distance}}}(?:{left})"
            )
            return lambda text: near.search(text) is not None
        if isinstance(node, Not):
            inner = build(node.child)
            return lambda text: not inner(text)
        children = [build(c) for c in node.children]
        if isinstance(node, And):
            return lambda text: all(c(text) for c in children)
        return lambda text: any(c(text) for c in children)

    def build_positional(node) -> str:
        if isinstance(node, Or):
            return "|".join(build_positional(c) for c in node.children)
        if isinstance(node, Near):
            return (
                atom_regex(node.left) if not isinstance(node.left, Near | Or) else build_positional(node.left)
            )
        return atom_regex(node)

    return [(rule["name"], build(parse_query(rule["query"]).root)) for rule in rules]


# ---------------------------------------------------------------------------- main


def _throughput(
    label: str, compiled, articles: list[tuple[str, str]], explain: bool = False, snippets: bool = True
) -> float:
    """Print and return articles/s on one core (CPU time of this process, not wall time)."""
    gc.collect()
    started = time.process_time()
    matched = 0
    for title, text in articles:
        if explain and snippets:  # snippets are made when first read: read them, as storing a match does
            found = compiled.match(title, text)
            matched += sum(1 for match in found if match.snippet is not None)
        elif explain:  # the hits alone, as `newswatch match` without --snippets writes them
            matched += sum(1 for match in compiled.match(title, text) if match.hits)
        else:
            matched += len(compiled.match_names(title, text))
    seconds = time.process_time() - started
    rate = len(articles) / seconds
    print(
        f"  {label}: {rate:,.0f} articles/s ({seconds / len(articles) * 1e6:,.0f} us/article, "
        f"{matched / len(articles):.1f} rules matched/article, {len(articles)} articles)"
    )
    return rate


def _scenario(name: str, bodies: list[str], corpus_share: float, explain_sample: int) -> None:
    from alerts.rules.compiled import compile_rules
    from newswatch.core.bulk import keep_for_good

    rng = random.Random(SEED)
    rules, vocabulary = make_rules(bodies, rng, corpus_share)
    articles = make_articles(bodies, rng, vocabulary)
    print(f"\n{name}: {len(rules):,} rules, {corpus_share:.0%} of them from the corpus' words")

    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    compiled = compile_rules(rules)
    print(
        f"  compile: {time.process_time() - cpu:.2f} s CPU ({time.perf_counter() - started:.2f} s wall)"
        "  (target < 2 s)"
    )
    del compiled
    gc.collect()
    tracemalloc.start()
    compiled = compile_rules(rules)
    memory, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  memory of the compiled rules: {memory / 2**20:.1f} MiB")

    keep_for_good()  # as the service and `newswatch match` do once the rules are compiled
    _throughput("match_names (the decision)", compiled, articles)
    _throughput("match (with hits)", compiled, articles[: explain_sample * 5], explain=True, snippets=False)
    _throughput("match (with hits and snippets)", compiled, articles[:explain_sample], explain=True)
    # The matcher remembers each distinct chunk's keys across articles (news repeats its
    # vocabulary); the line above starts from an empty lexicon but the corpus cycles. Here a
    # fresh compile sees each real body once, so every article brings new words.
    del compiled
    gc.collect()
    _throughput("match_names, fresh rules, each body once", compile_rules(rules), articles[: len(bodies)])
    # The same decision without the C chunk table (a machine where alerts.rules._scan was not built).
    from alerts.rules import lexicon

    if lexicon.USE_C_SCAN and lexicon._scan is not None:
        lexicon.USE_C_SCAN = False
        try:
            gc.collect()
            _throughput("match_names without the C chunk table (pure Python)", compile_rules(rules), articles)
        finally:
            lexicon.USE_C_SCAN = True


def _floor(bodies: list[str]) -> None:
    """The part no rule set can avoid: splitting and folding the words of each article."""
    from alerts.rules.text import ScannedText

    rng = random.Random(SEED)
    articles = make_articles(bodies, rng, ["x"])
    gc.collect()
    started = time.process_time()
    for title, text in articles:
        ScannedText(title).words()
        ScannedText(text).words()
    seconds = time.process_time() - started
    print(
        f"\nword scan alone (every article's distinct folded words): {len(articles) / seconds:,.0f} articles/s"
    )


def _whole_command(bodies: list[str]) -> None:
    """The heavy rules through `newswatch match` as a user runs it: start-up, loading and
    checking the rules file, compiling, matching and writing JSON lines (hits, no snippets;
    then with --snippets), wall time of the whole process."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    import yaml

    rng = random.Random(SEED)
    rules, vocabulary = make_rules(bodies, rng, 1.0)
    articles = make_articles(bodies, rng, vocabulary)
    with tempfile.TemporaryDirectory() as folder:
        rules_file, articles_file = Path(folder) / "big.yaml", Path(folder) / "many.jsonl"
        rules_file.write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True), encoding="utf-8")
        with articles_file.open("w", encoding="utf-8") as out:
            for number, (title, text) in enumerate(articles):
                out.write(json.dumps({"id": number, "title": title, "text": text}, ensure_ascii=False) + "\n")
        command = [sys.executable, *"-m newswatch match --rules".split(), str(rules_file)]
        command += ["--articles", str(articles_file)]
        print(f"\nwhole command, heavy rules: newswatch match over {len(articles):,} articles (wall time)")
        outputs: dict[str, str] = {}
        for extra in ([], ["--jobs", "1"], ["--snippets"]):
            started = time.perf_counter()
            result = subprocess.run([*command, *extra], capture_output=True, text=True, timeout=600)
            took = time.perf_counter() - started
            if result.returncode:
                print(f"  failed ({result.returncode}): {result.stderr.strip()[-300:]}")
                return
            lines = result.stdout.count("\n")
            label = " ".join(["match", *extra])
            outputs[label] = result.stdout
            print(
                f"  {label:<20} {took:.2f} s, {lines / took:,.0f} articles/s ({lines:,} lines)  (target < 3 s)"
            )
        same = outputs["match"] == outputs["match --jobs 1"]
        print(
            f"  one process per core ({os.cpu_count()}) and --jobs 1 wrote {'the same' if same else 'DIFFERENT'} lines"
        )


def _baseline(bodies: list[str]) -> None:
    rng = random.Random(SEED)
    rules, vocabulary = make_rules(bodies, rng, 0.1)
    articles = make_articles(bodies, rng, vocabulary)[:BASELINE_ARTICLES]
    naive = naive_rules(rules)
    gc.collect()
    started = time.process_time()
    matched = 0
    for title, text in articles:
        lowered = (title + "\n" + text).lower()
        matched += sum(1 for _, predicate in naive if predicate(lowered))
    seconds = time.process_time() - started
    print(
        f"\nnaive baseline, same 10,000 rules (10% from the corpus), every rule tried with Python regexes: "
        f"{len(articles) / seconds:,.2f} articles/s ({len(articles)} articles, {matched / len(articles):.1f} "
        "rules matched/article; no accent folding, title and body not kept apart)"
    )


def main() -> None:
    bodies = load_bodies()
    if bodies is None:
        print(f"skipped: {GROUND_TRUTH} is absent (the real-world pages live in ../shared)")
        return
    average = sum(map(len, bodies)) / len(bodies)
    from alerts.rules.compiled import matcher_backend

    backend = matcher_backend()
    print(
        f"{ARTICLES:,} articles cycled from {len(bodies)} real bodies ({average:,.0f} characters on average); "
        f"figures are per core (CPU time); matching with {backend}"
    )
    _scenario("typical: most rules do not match most articles", bodies, 0.1, explain_sample=200)
    _scenario("heavy: every rule built from the corpus' own words", bodies, 1.0, explain_sample=100)
    _floor(bodies)
    _whole_command(bodies)
    _baseline(bodies)


if __name__ == "__main__":
    main()
