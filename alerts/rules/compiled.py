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
   small Python function generated from its tree (`alerts.rules.plan`). With the C chunk table,
   the decision itself runs in C (`alerts.rules._scan.decide`, alerts/rules/_decide.c) over the
   same tables, and such a rule is a program of tuples instead of a function.
3. Those functions call lazy checks of phrases, exact words and NEAR (`alerts.rules.terms`) on
   the article's views (`ScannedArticle`, here), each built only when first asked for.

Explanations (`RuleMatch.hits`, `.snippet`) come from the words this pass split, shared by the
rules matched on one article (`alerts.rules.hits`); the plain evaluator of
`alerts.rules.reference` is the oracle they are tested against.

Rules change one at a time without compiling the others again: `CompiledRules.with_rule`,
`.without_rule` and `.updated`.

Rule options: `sources:` (a rule never matches articles of other sources; when the caller
gives no source, no rule is limited) and `enabled: false` (the rule is left out).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerts.rules import hits, lexicon
from alerts.rules.atoms import ExplainPlans, FlatPlans, Plan
from alerts.rules.explanations import RuleMatch
from alerts.rules.hits import ArticleHits
from alerts.rules.keys import key_id
from alerts.rules.plan import (
    CodeGen,
    Program,
    Terms,
    decided_by_groups,
    minimal_groups,
    requirement_groups,
    selectivity,
)
from alerts.rules.postings import Postings
from alerts.rules.query import QuerySyntaxError, parse_query
from alerts.rules.scanned import ScannedArticle
from alerts.rules.tree import Query
from newswatch.core.bulk import collector_paused
from newswatch.core.errors import UserError


class RuleError(UserError):
    """A rule that cannot be compiled: "rule 'NAME': column N: …"."""

    def __init__(self, rule: str, message: str, column: int | None = None) -> None:
        self.rule, self.column, self.message = rule, column, message
        where = f"column {column}: " if column is not None else ""
        super().__init__(f"rule '{rule}': {where}{message}")


# How a rule that its groups do not decide is evaluated: a generated function, or with the C
# chunk table the program `alerts.rules._scan.decide` runs (`CodeGen.program`).
Evaluator = Callable[[set[bytes], set[bytes], ScannedArticle], bool] | Program


@dataclass
class _Compiled:
    name: str
    query: Query
    sources: frozenset[str] | None
    groups: list[frozenset[bytes]]
    plan: Plan  # how its hits are found (alerts.rules.hits)
    evaluate: Evaluator | None = None  # None: the groups decide
    explained: tuple[str, Plan] = field(init=False)  # (name, plan): what `ArticleHits` reads

    def __post_init__(self) -> None:
        self.explained = (self.name, self.plan)


class CompiledRules:
    """All rules compiled together; `match()` evaluates them all against one article.

    Rules are changed one at a time without compiling the others again: `with_rule(rule)` adds a
    rule or replaces the one of that name in place, `without_rule(name)` removes one, and
    `updated(rules, removed)` does several at once. Each returns a new `CompiledRules` that
    matches exactly as `compile_rules` over the resulting list would (the tests check it); the
    original keeps working unchanged, so a service can swap them while articles are matched.
    The lexicon is rebuilt only when a new rule brings words, prefixes or phrases it does not
    know yet; a removed rule leaves its slot empty (its words stay known, which is harmless)."""

    def __init__(
        self,
        compiled: list[_Compiled],
        checks: list[Any],
        indexed: bool = False,
        plans: ExplainPlans | None = None,
    ) -> None:
        self._rules: list[_Compiled | None] = list(compiled)
        # What match_names and match start from, beside the rules (None where a rule was removed).
        self._names: list[str | None] = [rule.name for rule in compiled]
        self._explained: list[tuple[str, Plan] | None] = [rule.explained for rule in compiled]
        self._plans = plans or ExplainPlans(indexed)
        self._flat = FlatPlans()  # the rules' flat plans, packed (what the C hits read)
        for index, rule in enumerate(compiled):
            self._flat.put(index, rule.plan)
        self._checks = checks
        self._indexed = indexed
        # Rules decided by one group match as soon as one of its keys occurs.
        self._direct: dict[bytes, list[int]] = {}
        # The others are looked at when a key of their trigger group (the most selective-looking
        # one) occurs; then every other group must be hit too before the rule is evaluated.
        self._triggers: dict[bytes, list[int]] = {}
        # With the C decision, both in one table by key id (`key_id`) instead: codes, 2 * index
        # for a direct rule and 2 * index + 1 for a trigger, in one int32 pool.
        self._postings = Postings()
        # Per rule, its groups but the trigger: tuples of keys (with the C decision, each group
        # its key ids packed in int32).
        self._other_groups: list[tuple[Any, ...]] = []
        self._evaluate: list[Evaluator | None] = []
        self._positions: dict[str, int] = {}
        self._terms = Terms()
        fresh: dict[int, list[int]] = {}  # key id -> codes, packed into _postings at the end
        for index, rule in enumerate(compiled):
            self._other_groups.append(())
            self._evaluate.append(None)
            self._post(index, rule, fresh)
            self._terms.add(rule.query.root, indexed)
        if indexed:
            self._postings = Postings(fresh)
        self._count = len(compiled)
        self._finish(new_lexicon=True)

    def _post(self, index: int, rule: _Compiled, fresh: dict[int, list[int]] | None = None) -> None:
        """Enter a rule at `index` in the tables (`fresh`: the constructor's codes by key id,
        packed when all rules are in; else the tables are copied on write)."""
        self._evaluate[index] = rule.evaluate
        trigger = max(rule.groups, key=selectivity)
        others = [g for g in rule.groups if g is not trigger]
        direct = rule.evaluate is None and len(rule.groups) == 1
        if self._indexed:  # the C decision's tables: key ids
            self._other_groups[index] = tuple(_packed_ids(g) for g in others)
            code, postings = 2 * index + (not direct), self._postings
            for key in trigger:
                id_ = key_id(key)
                if fresh is not None:
                    fresh.setdefault(id_, []).append(code)
                else:  # appended to this version's own copy of the pool
                    postings.put(id_, [*postings.codes(id_), code])
        else:
            self._other_groups[index] = tuple(tuple(g) for g in others)
            table = self._direct if direct else self._triggers
            for key in trigger:
                if fresh is not None:
                    table.setdefault(key, []).append(index)
                else:  # copy on write: the lists may be shared with the CompiledRules this came from
                    table[key] = [*table.get(key, ()), index]
        self._positions[rule.name] = index

    def _unpost(self, index: int) -> None:
        """Take the rule at `index` out of the tables (copy on write), leaving its slot empty."""
        rule = self._rules[index]
        if rule is None:
            return
        trigger = max(rule.groups, key=selectivity)
        for table in () if self._indexed else (self._direct, self._triggers):
            for key in trigger:
                kept = [i for i in table.get(key, ()) if i != index]
                if kept:
                    table[key] = kept
                else:
                    table.pop(key, None)
        postings = self._postings
        for id_ in map(key_id, trigger) if self._indexed else ():
            postings.put(id_, [c for c in postings.codes(id_) if c >> 1 != index])
        self._rules[index] = None
        self._names[index] = None
        self._explained[index] = None
        self._flat.put(index, None)
        self._evaluate[index] = None
        self._other_groups[index] = ()
        if self._positions.get(rule.name) == index:
            del self._positions[rule.name]

    def _finish(self, new_lexicon: bool) -> None:
        if not self._indexed:  # what the Python decision intersects the article's keys with
            self._direct_keys = frozenset(self._direct)
            self._trigger_keys = frozenset(self._triggers)
        if new_lexicon:
            terms = self._terms
            self._lexicon = lexicon.Lexicon(
                terms.vocabulary,
                terms.prefixes,
                phrases=terms.phrases if self._indexed else None,
                near_words=terms.near_words,
            )

    # ------------------------------------------------------------------ changes

    def with_rule(self, rule: Any) -> CompiledRules:
        """Return these rules with `rule` added, or replacing the rule of its name in place (a
        disabled rule is removed); raise RuleError when its query is malformed."""
        return self.updated([rule])

    def without_rule(self, name: str) -> CompiledRules:
        """Return these rules without the rule named `name` (unchanged when there is none)."""
        return self.updated([], removed=[name])

    def updated(self, rules: Sequence[Any] = (), removed: Iterable[str] = ()) -> CompiledRules:
        """Return these rules with `rules` added or replaced (by name) and `removed` taken out,
        compiling only those; raise RuleError naming a malformed rule (nothing is changed)."""
        codegen = CodeGen(self._indexed)
        codegen.checks = self._checks  # appended to: the generated code refers to checks by index
        entries = _compile_entries(rules, self._indexed, codegen, self._plans, keep_disabled=True)
        new = object.__new__(CompiledRules)
        new.__dict__.update(self.__dict__)
        new._rules, new._names, new._explained, new._evaluate, new._other_groups = (
            list(self._rules),
            list(self._names),
            list(self._explained),
            list(self._evaluate),
            list(self._other_groups),
        )
        new._flat = self._flat.copy()
        new._direct, new._triggers, new._postings, new._positions = (
            dict(self._direct),
            dict(self._triggers),
            self._postings.copy(),
            dict(self._positions),
        )
        for name in removed:
            if name in new._positions:
                new._unpost(new._positions[name])
        added = Terms()
        for entry, enabled in entries:
            index = new._positions.get(entry.name)
            if index is not None:
                new._unpost(index)
            if not enabled:
                continue
            if index is None:
                index = len(new._rules)
                new._rules.append(None)
                new._names.append(None)
                new._explained.append(None)
                new._evaluate.append(None)
                new._other_groups.append(())
            new._rules[index] = entry
            new._names[index] = entry.name
            new._explained[index] = entry.explained
            new._flat.put(index, entry.plan)
            new._post(index, entry)
            added.add(entry.query.root, self._indexed)
        new._count = len(new._positions)
        grows = not self._terms.covers(added)
        if grows:
            new._terms = self._terms.union(added)
        new._finish(new_lexicon=grows)
        return new

    # ------------------------------------------------------------------ matching

    def __len__(self) -> int:
        return self._count

    @property
    def names(self) -> list[str]:
        return [rule.name for rule in self._rules if rule is not None]

    @property
    def queries(self) -> list[Query]:
        return [rule.query for rule in self._rules if rule is not None]

    def _matching(
        self, title: str, text: str, source: str | None, wanted: list[Any] | None = None
    ) -> tuple[Any, ScannedArticle]:
        """The rules the article matches, in order; with the C decision and no source, the items
        of `wanted` (self._names) at their places instead, or without `wanted` their indexes
        (packed int32)."""
        article = ScannedArticle(title or "", text or "", self._checks)
        keys, view = self._lexicon.keys, wanted is None  # match() explains: the views in the same pass
        title_keys, title_state, title_ids, article.views[0] = keys(article.scans[0], view)
        text_keys, text_state, text_ids, article.views[1] = keys(article.scans[1], view)
        words = article.words = (title_keys, text_keys)
        article.ids = (title_ids, text_ids)
        article.changing = (title_state.changing, text_state.changing)
        article.tables = (title_state.table, text_state.table)
        article.word_ids = self._lexicon.phrase_words
        if self._indexed:  # the same as below, in C
            table = wanted if wanted is not None and source is None else len(self._rules)
            found = lexicon._scan.decide(
                *words,
                (self._postings.at, self._postings.pool),
                self._other_groups,
                self._evaluate,
                article,
                table,
            )
            if source is None:
                return found, article
            rules = self._rules
            return [rules[i] for i in memoryview(found).cast("i") if _serves(rules[i], source)], article
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
                    if function is None or function(title_words, text_words, article):  # type: ignore[operator]
                        matched.add(index)
        rules = self._rules
        return [rules[i] for i in sorted(matched) if source is None or _serves(rules[i], source)], article

    def match_names(self, title: str, text: str, source: str | None = None) -> list[str]:
        """Return the names of the rules that match, in rule-definition order (no explanation)."""
        found = self._matching(title, text, source, self._names)[0]
        return found if self._indexed and source is None else [rule.name for rule in found]

    def match(self, title: str, text: str, source: str | None = None) -> list[RuleMatch]:
        """Return the rules that match the article, in rule-definition order, explained from the
        words this pass split (`alerts.rules.hits`)."""
        found, article = self._matching(title, text, source)
        if not found:
            return []
        hits = ArticleHits(title or "", text or "", article, self._plans)
        if self._indexed and source is None:  # the rules' indexes, packed
            return hits.explain_indexes(found, self._flat, self._names, self._explained)  # type: ignore[arg-type]
        return hits.explain([rule.explained for rule in found])


def _serves(rule: _Compiled, source: str) -> bool:
    """Whether a rule matches articles of `source` (`sources:` unset: every source)."""
    return rule.sources is None or source in rule.sources


def _packed_ids(keys: Iterable[bytes]) -> bytes:
    """The keys' ids as native int32 (what the C decision reads a requirement group as)."""
    return array("i", map(key_id, keys)).tobytes()


def _rule_fields(rule: Any) -> tuple[str, str, Iterable[str] | None, bool]:
    if isinstance(rule, dict):
        return rule["name"], rule["query"], rule.get("sources"), rule.get("enabled", True)
    return rule.name, rule.query, getattr(rule, "sources", None), getattr(rule, "enabled", True)


def matcher_backend() -> str:
    """Which matcher rule sets compiled now run on (`newswatch check` and the benches say it)."""
    if not (lexicon.USE_C_SCAN and lexicon._scan is not None):
        why = "NEWSWATCH_PURE_PYTHON=1" if lexicon._scan is not None else "alerts.rules._scan was not built"
        return f"pure Python ({why})"
    explained = (
        "hits in C" if hits._explain is not None else "hits in Python (alerts.rules._explain was not built)"
    )
    return f"C extensions (chunk table and decision in alerts.rules._scan, {explained})"


def compile_rules(rules: Sequence[Any]) -> CompiledRules:
    """Return the enabled rules compiled together; raise RuleError naming a malformed rule."""
    # Read from the lexicon module at each compile: the tests and the bench switch it there.
    indexed = lexicon.USE_C_SCAN and lexicon._scan is not None
    codegen = CodeGen(indexed)
    plans = ExplainPlans(indexed)
    with collector_paused():  # 100,000 rules: see newswatch.core.bulk
        entries = _compile_entries(rules, indexed, codegen, plans)
        return CompiledRules([entry for entry, _ in entries], codegen.checks, indexed, plans)


def _compile_entries(
    rules: Sequence[Any], indexed: bool, codegen: CodeGen, plans: ExplainPlans, keep_disabled: bool = False
) -> list[tuple[_Compiled, bool]]:
    """Return each rule compiled, with whether it is enabled (disabled ones only when asked)."""
    compiled: list[tuple[_Compiled, bool]] = []
    generated: list[tuple[_Compiled, str]] = []
    for rule in rules:
        name, text, sources, enabled = _rule_fields(rule)
        if not enabled and not keep_disabled:
            continue
        try:
            query = parse_query(text)
        except QuerySyntaxError as exc:
            raise RuleError(name, exc.message, exc.column) from None
        source_set = frozenset(sources) if sources is not None else None
        groups = minimal_groups(requirement_groups(query.root, indexed=indexed))
        entry = _Compiled(name, query, source_set, groups, plans.plan(query.root))
        compiled.append((entry, enabled))
        if decided_by_groups(query.root, indexed):
            pass
        elif indexed:  # decided in C: a program of tuples
            entry.evaluate = codegen.program(query.root)
        else:
            generated.append((entry, f"lambda T, X, a: {codegen.expr(query.root)}"))
    if generated:
        source = "(" + ",\n".join(code for _, code in generated) + ",)"
        functions = eval(compile(source, "<rules>", "eval"), {})  # code we generated from parsed rules
        for (entry, _), function in zip(generated, functions, strict=True):
            entry.evaluate = function
    return compiled


def compile_query(query: str, name: str = "query") -> CompiledRules:
    """Return one ad-hoc query compiled as a rule (for the archive search and `rules test`)."""
    return compile_rules([{"name": name, "query": query}])
