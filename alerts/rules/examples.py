"""Rule examples: sentences a rule must match (`match`) and must not match (`no_match`).

DESIGN "Rule examples": a failing example makes `newswatch check`, `run` and the API (when
saving a rule) refuse the rule, with one line naming `examples.match[0]` or
`examples.no_match[0]` and why — for `match`, which required part of the query found nothing;
for `no_match`, what hit. An example is evaluated as an article body with no title, by the
plain evaluator, so it agrees with the matcher by construction (the property tests).
"""

from __future__ import annotations

from alerts.rules import reference
from alerts.rules.query import QuerySyntaxError, parse_query
from alerts.rules.tree import And, Node, Not
from newswatch.core.config import RuleExamples


def examples_problem(query_text: str, examples: RuleExamples | None) -> tuple[str, str] | None:
    """Return (field, why) for the first failing example, or None when all pass (or none)."""
    if examples is None:
        return None
    try:
        query = parse_query(query_text)
    except QuerySyntaxError:
        return None  # the query's own problem is reported first, with its column
    for index, sentence in enumerate(examples.match):
        article = reference.Article("", sentence)
        if not reference.explain(query.root, article)[0]:
            return f"examples.match[{index}]", f"does not match: {_missing(query.root, article)}"
    for index, sentence in enumerate(examples.no_match):
        article = reference.Article("", sentence)
        matched, hits = reference.explain(query.root, article)
        if matched:
            words = article.fields["text"]
            found = sorted(
                {words.text[words.matches[s].start() : words.matches[e].end()] for _f, (s, e) in hits}
            )
            return f"examples.no_match[{index}]", f"matches, but should not (hits: {', '.join(found)})"
    return None


def _missing(root: Node, article: reference.Article) -> str:
    """Say which required parts of the query found nothing (or which exclusion hit)."""
    parts = root.children if isinstance(root, And) else (root,)
    failed = [part for part in parts if not reference.explain(part, article)[0]]
    described = []
    for part in failed or parts:
        if isinstance(part, Not):
            described.append(f"excluded {part.child} is present")
        else:
            described.append(f"{part} found nothing")
    return "; ".join(described)
