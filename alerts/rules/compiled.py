"""The compiled matcher: every rule evaluated against an article in one pass.

`compile_rules` compiles all rules together into `CompiledRules`; `match_names()` decides which
rules an article matches, `match()` also explains them. How (the choices were measured with
bench/bench_matcher.py):

1. Title and body are each turned into bytes split at ASCII separators, and a lexicon kept
   across articles maps each chunk to the rule keys its folded words hit (words, `b"prefix*"`
   for prefixes and, with the C chunk table of `alerts.rules._scan`, phrases of plain words):
   `alerts.rules.lexicon`. The keys themselves are made in `alerts.rules.keys`.
2. Each rule has requirement groups, sets of keys of which at least one per group must occur;
   a rule is looked at only when all its groups are satisfied, and a rule of words, prefixes
   (and plain phrases) in ANDs of ORs is decided by them alone. Any other rule is evaluated by a
   small Python function generated from its tree: `alerts.rules.plan`.
3. Those functions call lazy checks of phrases, exact words and NEAR (`alerts.rules.terms`) on
   the article's views (`ScannedArticle`, here), each built only when first asked for.

Explanations (`RuleMatch.hits`, `.snippet`) come from the plain evaluator in
`alerts.rules.reference`, run only for the rules that matched: `alerts.rules.explanations`.

Rule options: `sources:` (a rule never matches articles of other sources; when the caller
gives no source, no rule is limited) and `enabled: false` (the rule is left out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from alerts.rules import lexicon
from alerts.rules.explanations import RuleMatch
from alerts.rules.hits import ArticleHits, ExplainPlans, Plan
from alerts.rules.keys import indexed_key, word_key
from alerts.rules.plan import (
    CodeGen,
    decided_by_groups,
    minimal_groups,
    near_word_keys,
    phrases_of,
    requirement_groups,
    selectivity,
    words_of,
)
from alerts.rules.query import QuerySyntaxError, parse_query
from alerts.rules.text import ScannedText
from alerts.rules.tree import Query
from newswatch.core.bulk import collector_paused
from newswatch.core.errors import UserError


class RuleError(UserError):
    """A rule that cannot be compiled: "rule 'NAME': column N: …"."""

    def __init__(self, rule: str, message: str, column: int | None = None) -> None:
        self.rule, self.column, self.message = rule, column, message
        where = f"column {column}: " if column is not None else ""
        super().__init__(f"rule '{rule}': {where}{message}")


Evaluator = Callable[[set[bytes], set[bytes], "ScannedArticle"], bool]


@dataclass
class _Compiled:
    name: str
    query: Query
    sources: frozenset[str] | None
    groups: list[frozenset[bytes]]
    plan: Plan  # how its hits are found (alerts.rules.hits)
    evaluate: Evaluator | None = None  # None: the groups decide


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
        "_positions",
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
        self._positions: list[dict[int, list[int]] | None] = [None, None]

    def word_positions(self, f: int, word: bytes) -> list[int] | None:
        """The positions of a plain NEAR word in the field, from the C chunk table (one pass over
        the split bytes for all of them), or None where it cannot tell."""
        table, index = self.tables[f], self.word_ids.get(word)
        if table is None or index is None:
            return None
        found = self._positions[f]
        if found is None:
            found = self._positions[f] = table.positions(self.scans[f].data)
            if found is None:  # a chunk the table does not know (replaced meanwhile)
                self.tables = tuple(None if i == f else t for i, t in enumerate(self.tables))
                return None
        return found.get(index, [])

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
        table = self.tables[f]
        found = None if table is None else table.offsets(self.scans[f].data)
        return None if found is None else memoryview(found).cast("i")

    def joined(self, f: int) -> bytes:
        """b" w1 w2 … wn ": the field's folded words (from the C chunk table when there is one)."""
        found = self.built[f]
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
            found = bool(positional.spans(self, 0)) or bool(positional.spans(self, 1))
            self._cache[key] = found
        return found


class CompiledRules:
    """All rules compiled together; `match()` evaluates them all against one article."""

    def __init__(
        self,
        compiled: list[_Compiled],
        checks: list[Any],
        indexed: bool = False,
        plans: ExplainPlans | None = None,
    ) -> None:
        self._rules = compiled
        self._plans = plans or ExplainPlans()
        self._checks = checks
        vocabulary: set[bytes] = set()
        prefixes: set[bytes] = set()
        phrases: set[bytes] = set()
        near_words: set[bytes] = set()
        for rule in compiled:
            for word in words_of(rule.query.root, indexed):
                key = word_key(word)
                (prefixes if word.prefix else vocabulary).add(key)
            if indexed:
                phrases.update(filter(None, map(indexed_key, phrases_of(rule.query.root))))
                near_words.update(near_word_keys(rule.query.root))
        # Plain sets, not frozensets: their intersections come back as mutable sets.
        # Rules decided by one group match as soon as one of its keys occurs.
        self._direct: dict[bytes, list[int]] = {}
        # The others are looked at when a key of their trigger group (the most selective-looking
        # one) occurs; then every other group must be hit too before the rule is evaluated.
        self._triggers: dict[bytes, list[int]] = {}
        self._other_groups: list[tuple[frozenset[bytes], ...]] = []
        self._evaluate: list[Evaluator | None] = []
        for index, rule in enumerate(compiled):
            self._evaluate.append(rule.evaluate)
            trigger = max(rule.groups, key=selectivity)
            self._other_groups.append(tuple(g for g in rule.groups if g is not trigger))
            table = self._direct if rule.evaluate is None and len(rule.groups) == 1 else self._triggers
            for key in trigger:
                table.setdefault(key, []).append(index)
        self._direct_keys = frozenset(self._direct)
        self._trigger_keys = frozenset(self._triggers)
        self._lexicon = lexicon.Lexicon(
            vocabulary, prefixes, phrases=phrases if indexed else None, near_words=near_words
        )

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def names(self) -> list[str]:
        return [rule.name for rule in self._rules]

    @property
    def queries(self) -> list[Query]:
        return [rule.query for rule in self._rules]

    def _matching(self, title: str, text: str, source: str | None) -> tuple[list[_Compiled], ScannedArticle]:
        article = ScannedArticle(title or "", text or "", self._checks)
        keys = self._lexicon.keys
        title_keys, title_state = keys(article.scans[0])
        text_keys, text_state = keys(article.scans[1])
        words = article.words = (title_keys, text_keys)
        article.changing = (title_state.changing, text_state.changing)
        article.tables = (title_state.table, text_state.table)
        article.word_ids = self._lexicon.phrase_words
        present = words[0] | words[1]
        matched: set[int] = set().union(*map(self._direct.__getitem__, present & self._direct_keys))
        candidates = set().union(*map(self._triggers.__getitem__, present & self._trigger_keys))
        if candidates:
            other_groups, evaluate = self._other_groups, self._evaluate
            title_words, text_words = words
            for index in candidates:
                for group in other_groups[index]:
                    if present.isdisjoint(group):
                        break
                else:
                    function = evaluate[index]
                    if function is None or function(title_words, text_words, article):
                        matched.add(index)
        rules = self._rules
        if source is None:
            return [rules[i] for i in sorted(matched)], article
        found = [r for r in (rules[i] for i in sorted(matched)) if r.sources is None or source in r.sources]
        return found, article

    def match_names(self, title: str, text: str, source: str | None = None) -> list[str]:
        """Return the names of the rules that match, in rule-definition order (no explanation)."""
        return [rule.name for rule in self._matching(title, text, source)[0]]

    def match(self, title: str, text: str, source: str | None = None) -> list[RuleMatch]:
        """Return the rules that match the article, in rule-definition order, explained from the
        words this pass split (`alerts.rules.hits`)."""
        rules, article = self._matching(title, text, source)
        if not rules:
            return []
        hits = ArticleHits(title or "", text or "", article, self._plans)
        return hits.explain([(rule.name, rule.plan) for rule in rules])


def _rule_fields(rule: Any) -> tuple[str, str, Iterable[str] | None, bool]:
    if isinstance(rule, dict):
        return rule["name"], rule["query"], rule.get("sources"), rule.get("enabled", True)
    return rule.name, rule.query, getattr(rule, "sources", None), getattr(rule, "enabled", True)


def compile_rules(rules: Sequence[Any]) -> CompiledRules:
    """Return the enabled rules compiled together; raise RuleError naming a malformed rule."""
    with collector_paused():  # 100,000 rules: see newswatch.core.bulk
        return _compile_rules(rules)


def _compile_rules(rules: Sequence[Any]) -> CompiledRules:
    # Read from the lexicon module at each compile: the tests and the bench switch it there.
    indexed = lexicon.USE_C_SCAN and lexicon._scan is not None
    codegen = CodeGen(indexed)
    plans = ExplainPlans(indexed)
    compiled: list[_Compiled] = []
    generated: list[tuple[_Compiled, str]] = []
    for rule in rules:
        name, text, sources, enabled = _rule_fields(rule)
        if not enabled:
            continue
        try:
            query = parse_query(text)
        except QuerySyntaxError as exc:
            raise RuleError(name, exc.message, exc.column) from None
        source_set = frozenset(sources) if sources is not None else None
        groups = minimal_groups(requirement_groups(query.root, indexed=indexed))
        entry = _Compiled(name, query, source_set, groups, plans.plan(query.root))
        compiled.append(entry)
        if not decided_by_groups(query.root, indexed):
            generated.append((entry, f"lambda T, X, a: {codegen.expr(query.root)}"))
    if generated:
        source = "(" + ",\n".join(code for _, code in generated) + ",)"
        functions = eval(compile(source, "<rules>", "eval"), {})  # code we generated from parsed rules
        for (entry, _), function in zip(generated, functions, strict=True):
            entry.evaluate = function
    return CompiledRules(compiled, codegen.checks, indexed, plans)


def compile_query(query: str, name: str = "query") -> CompiledRules:
    """Return one ad-hoc query compiled as a rule (for the archive search and `rules test`)."""
    return compile_rules([{"name": name, "query": query}])
