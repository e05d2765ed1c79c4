"""Rule examples: texts a rule must match and must not match, kept with the rule and checked.

```yaml
rules:
  - name: iss-deorbit
    query: 'deorbit* AND (ISS OR "International Space Station")'
    examples:
      match: ["NASA picked SpaceX to deorbit the ISS in 2030."]
      no_match: ["The missile was destroyed before it could deorbit."]
```

An example is an article: a string stands for an article whose title and body are both that
text; `{title: …, text: …}` gives them apart (for rules scoped to a field). Each failing
example is one problem naming `examples.match[i]` or `examples.no_match[i]` and saying why:
for `match`, which required part of the query found nothing (or which NOT excluded it); for
`no_match`, what it matched. The decision is the plain evaluator's (`alerts.rules.reference`),
the definition the compiled matcher is tested against; examples are short, so it is cheap.
"""

from __future__ import annotations

from typing import Any

from alerts.rules import reference
from alerts.rules.explanations import explain
from alerts.rules.query import QuerySyntaxError, parse_query
from alerts.rules.tree import And, Near, Node, Not, Or, Phrase, Word


def _article(example: Any) -> reference.Article:
    if isinstance(example, str):
        return reference.Article(example, example)
    title = getattr(example, "title", None) if not isinstance(example, dict) else example.get("title")
    text = getattr(example, "text", None) if not isinstance(example, dict) else example.get("text")
    return reference.Article(title or "", text or "")


def written(node: Node) -> str:
    """The query text of a node with its words as the rule writes them (`ISS`, not `iss`)."""
    if isinstance(node, Word):
        text = ("=" if node.exact else "") + (node.surface or node.key) + ("*" if node.prefix else "")
        return f"{node.field}:{text}" if node.field else text
    if isinstance(node, Phrase):
        exact = all(w.exact for w in node.words)
        inner = " ".join(
            ("=" if w.exact and not exact else "") + (w.surface or w.key) + ("*" if w.prefix else "")
            for w in node.words
        )
        text = ("=" if exact else "") + f'"{inner}"'
        return f"{node.field}:{text}" if node.field else text
    if isinstance(node, Near):
        return f"{written(node.left)} NEAR/{node.distance} {written(node.right)}"
    if isinstance(node, Not):
        return f"NOT {written(node.child)}"
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(written(c) for c in node.children) + ")"


def missing_parts(node: Node, article: reference.Article) -> list[str]:
    """Why `node` is false on the article: the required parts that found nothing, and the
    NOTs whose words are there."""
    if isinstance(node, Word | Phrase | Near):
        return [f"{written(node)} found nothing"]
    if isinstance(node, Not):
        _, hits = reference.explain(node.child, article)
        found = sorted({_surface(article, field, span) for field, span in hits})
        return [f"{written(node)} excludes it ({', '.join(repr(w) for w in found)} found)"]
    if isinstance(node, Or):
        return [f"none of {written(node)} was found"]
    assert isinstance(node, And)
    false = [child for child in node.children if not reference.explain(child, article)[0]]
    return [part for child in false for part in missing_parts(child, article)]


def _surface(article: reference.Article, field: str, span: tuple[int, int]) -> str:
    words = article.fields[field]
    return " ".join(words.text[words.matches[span[0]].start() : words.matches[span[1]].end()].split())


def example_problems(query: str, examples: Any) -> list[tuple[str, str]]:
    """Return (field, why) for each failing example of a rule (`examples` has `match` and
    `no_match` lists); none when they all pass or the query does not parse (that is reported
    on its own)."""
    try:
        parsed = parse_query(query)
    except QuerySyntaxError:
        return []
    problems = []
    for index, example in enumerate(_items(examples, "match")):
        article = _article(example)
        if not reference.explain(parsed.root, article)[0]:
            why = "; ".join(missing_parts(parsed.root, article))
            problems.append((f"examples.match[{index}]", f"the rule does not match it: {why}"))
    for index, example in enumerate(_items(examples, "no_match")):
        article = _article(example)
        if reference.explain(parsed.root, article)[0]:
            hits = explain("example", parsed, article).hits
            found = sorted({w for words in hits.values() for w in words})
            problems.append(
                (f"examples.no_match[{index}]", f"the rule matches it (on {', '.join(map(repr, found))})")
            )
    return problems


def _items(examples: Any, kind: str) -> list[Any]:
    found = examples.get(kind) if isinstance(examples, dict) else getattr(examples, kind, None)
    return list(found or [])


def examples_problem(query: str, examples: Any) -> tuple[str, str] | None:
    """The first failing example's (field, why), or None: what the API answers a 422 with."""
    problems = example_problems(query, examples) if examples is not None else []
    return problems[0] if problems else None
