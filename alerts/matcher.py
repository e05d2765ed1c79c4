"""The compiled matcher: every rule evaluated against an article in one pass.

How (measured in bench/bench_matcher.py):

1. The article's title and body become sets of folded words (`alerts.text.word_set`: a C-level
   split of the UTF-8 bytes; only chunks with non-ASCII characters go through Unicode folding,
   cached).
2. Each rule has *trigger* words: at least one of them must occur for the rule to be true
   (`alerts.query.required_atoms`). Exact words are looked up with one set intersection;
   prefixes with one Aho-Corasick pass (pyahocorasick) over the article's distinct words.
3. Rules that are just words/prefixes OR-ed together match on the trigger alone; the others
   are evaluated — only when triggered — by a small generated Python function over the word
   sets. Phrases, NEAR and `=Exact` words are checked lazily, from the word sequence, only
   for rules that get that far.

Explanations (`RuleMatch.hits`, `.snippet`) come from the plain evaluator in
`alerts.reference`, run only for the rules that matched.

Rule options: `sources:` (a rule never matches articles of other sources; when the caller
gives no source, the rule is not limited) and `enabled: false` (the rule is left out).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from alerts import reference
from alerts.query import FIELDS, And, Near, Node, Not, Or, Phrase, Query, QuerySyntaxError, Word, parse_query
from alerts.query import required_atoms as _required_atoms
from alerts.text import encode, fold, word_sequence, word_set
from newswatch.errors import UserError

SNIPPET_BEFORE = 12  # words shown before the first hit
SNIPPET_AFTER = 24  # words shown after it
_TITLE, _TEXT = 1, 2
_MASK = {None: _TITLE | _TEXT, "title": _TITLE, "text": _TEXT}


@dataclass
class RuleMatch:
    """One rule that matched one article, with what hit where and a highlighted snippet."""

    rule: str
    hits: dict[str, list[str]]
    snippet: str


class RuleError(UserError):
    """A rule that cannot be compiled: "rule 'NAME': column N: …"."""

    def __init__(self, rule: str, message: str, column: int | None = None) -> None:
        self.rule, self.column, self.message = rule, column, message
        where = f"column {column}: " if column is not None else ""
        super().__init__(f"rule '{rule}': {where}{message}")


@dataclass
class _Compiled:
    name: str
    query: Query
    sources: frozenset[str] | None
    evaluate: Callable[[set[bytes], set[bytes], _Article], bool] | None  # None: matches when triggered


# ---------------------------------------------------------------------------- per article


class _Article:
    """One article's words, computed once, with the slower views built only when asked for."""

    __slots__ = ("texts", "words", "_seq", "_joined", "_exact", "_exact_seq", "_positions", "_cache")

    def __init__(self, title: str, text: str) -> None:
        self.texts = (title, text)
        self.words = (word_set(title), word_set(text))
        self._seq: list[list[bytes] | None] = [None, None]
        self._joined: list[bytes | None] = [None, None]
        self._exact: list[set[bytes] | None] = [None, None]
        self._exact_seq: list[list[bytes] | None] = [None, None]
        self._positions: list[dict[bytes, list[int]] | None] = [None, None]
        self._cache: dict[int, int] = {}

    def seq(self, f: int) -> list[bytes]:
        found = self._seq[f]
        if found is None:
            found = self._seq[f] = word_sequence(self.texts[f])
        return found

    def joined(self, f: int) -> bytes:
        found = self._joined[f]
        if found is None:
            found = self._joined[f] = b" " + b" ".join(self.seq(f)) + b" "
        return found

    def exact_set(self, f: int) -> set[bytes]:
        found = self._exact[f]
        if found is None:
            found = self._exact[f] = word_set(self.texts[f], exact=True)
        return found

    def exact_seq(self, f: int) -> list[bytes]:
        found = self._exact_seq[f]
        if found is None:
            found = self._exact_seq[f] = word_sequence(self.texts[f], exact=True)
        return found

    def positions(self, f: int) -> dict[bytes, list[int]]:
        found = self._positions[f]
        if found is None:
            found = {}
            for index, word in enumerate(self.seq(f)):
                found.setdefault(word, []).append(index)
            self._positions[f] = found
        return found


# ---------------------------------------------------------------------------- atoms


class _WordSpec:
    """A word atom, as the compiled code checks it."""

    __slots__ = ("key", "prefix", "exact")

    def __init__(self, word: Word) -> None:
        self.key = encode(word.key)
        self.prefix = word.prefix
        self.exact = word.exact

    def present(self, article: _Article, f: int) -> bool:
        if not self.exact:
            return (self.key + b"*" if self.prefix else self.key) in article.words[f]
        words = article.exact_set(f)
        if not self.prefix:
            return self.key in words
        return any(w.startswith(self.key) for w in words)

    def at(self, article: _Article, f: int, index: int) -> bool:
        word = (article.exact_seq(f) if self.exact else article.seq(f))[index]
        return word.startswith(self.key) if self.prefix else word == self.key

    def positions(self, article: _Article, f: int) -> list[int]:
        if not self.exact and not self.prefix:
            return article.positions(f).get(self.key, [])
        if not self.present(article, f):
            return []
        seq = article.exact_seq(f) if self.exact else article.seq(f)
        if self.prefix:
            return [i for i, w in enumerate(seq) if w.startswith(self.key)]
        return [i for i, w in enumerate(seq) if w == self.key]


class _PhraseSpec:
    __slots__ = ("words", "needle", "plain_keys")

    def __init__(self, phrase: Phrase) -> None:
        self.words = [_WordSpec(w) for w in phrase.words]
        plain = all(not w.exact for w in phrase.words) and not any(w.prefix for w in phrase.words[:-1])
        self.needle = None
        if plain:
            body = b" " + b" ".join(w.key for w in self.words)
            self.needle = body if phrase.words[-1].prefix else body + b" "
        self.plain_keys = [w.key for w in self.words if not w.exact and not w.prefix]

    def present(self, article: _Article, f: int) -> bool:
        words = article.words[f]
        for key in self.plain_keys:
            if key not in words:
                return False
        if self.needle is not None:
            return self.needle in article.joined(f)
        return bool(self.starts(article, f))

    def starts(self, article: _Article, f: int) -> list[int]:
        first, rest = self.words[0], self.words[1:]
        size = len(article.seq(f))
        out = []
        for start in first.positions(article, f):
            if start + len(rest) < size and all(w.at(article, f, start + 1 + k) for k, w in enumerate(rest)):
                out.append(start)
        return out


class _Positional:
    """Occurrences (start, end) of a word / phrase / OR / NEAR in one field, for NEAR."""

    def __init__(self, node: Node) -> None:
        self.node = node
        if isinstance(node, Word):
            self.word = _WordSpec(node)
            self.mask = _MASK[node.field]
        elif isinstance(node, Phrase):
            self.phrase = _PhraseSpec(node)
            self.mask = _MASK[node.field]
            self.size = len(node.words)
        elif isinstance(node, Or):
            self.children = [_Positional(c) for c in node.children]
        else:
            assert isinstance(node, Near)
            self.left, self.right = _Positional(node.left), _Positional(node.right)
            self.distance = node.distance

    def spans(self, article: _Article, f: int) -> list[tuple[int, int]]:
        node = self.node
        if isinstance(node, Word):
            if not self.mask & (1 << f) or not self.word.present(article, f):
                return []
            return [(i, i) for i in self.word.positions(article, f)]
        if isinstance(node, Phrase):
            if not self.mask & (1 << f) or not self.phrase.present(article, f):
                return []
            return [(i, i + self.size - 1) for i in self.phrase.starts(article, f)]
        if isinstance(node, Or):
            return sorted({s for child in self.children for s in child.spans(article, f)})
        left = self.left.spans(article, f)
        if not left:
            return []
        right = self.right.spans(article, f)
        out = set()
        gap = self.distance
        for a_start, a_end in left:
            for b_start, b_end in right:
                if a_end < b_start:
                    if b_start - a_end - 1 <= gap:
                        out.add((a_start, b_end))
                elif b_end < a_start and a_start - b_end - 1 <= gap:
                    out.add((b_start, a_end))
        return sorted(out)


class _Checks:
    """The lazily evaluated atoms of all rules (phrases, NEAR, exact words), by id."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, item: Any) -> int:
        self.items.append(item)
        return len(self.items) - 1


# ---------------------------------------------------------------------------- compiling


def _is_direct(node: Node) -> bool:
    """True for a word, a prefix, or an OR of those (the trigger alone decides)."""
    if isinstance(node, Word):
        return not node.exact
    return isinstance(node, Or) and all(isinstance(c, Word) and not c.exact for c in node.children)


def _trigger_keys(node: Node) -> list[bytes]:
    """Return folded keys (b"word" or b"prefix*"), one of which must occur for `node` to hold."""
    if isinstance(node, Word):
        key = encode(fold(node.key) if node.exact else node.key)
        return [key + b"*" if node.prefix else key]
    if isinstance(node, Phrase):
        best = max(node.words, key=lambda w: (not w.prefix, len(w.key)))
        return _trigger_keys(best)
    if isinstance(node, Or):
        return [k for child in node.children for k in _trigger_keys(child)]
    if isinstance(node, Near):
        return min(_trigger_keys(node.left), _trigger_keys(node.right), key=len)
    raise TypeError(node)  # pragma: no cover


def _prefix_keys(node: Node) -> Iterable[bytes]:
    """Yield b"prefix*" for every case-insensitive prefix word in the tree."""
    if isinstance(node, Word):
        if node.prefix and not node.exact:
            yield encode(node.key) + b"*"
    elif isinstance(node, Phrase):
        for word in node.words:
            yield from _prefix_keys(word)
    elif isinstance(node, Near):
        yield from _prefix_keys(node.left)
        yield from _prefix_keys(node.right)
    elif isinstance(node, Not):
        yield from _prefix_keys(node.child)
    else:
        for child in node.children:
            yield from _prefix_keys(child)


class _CodeGen:
    """Turns a rule's tree into the source of one Python expression over T, X (word sets) and a."""

    def __init__(self, checks: _Checks) -> None:
        self.checks = checks

    def expr(self, node: Node) -> str:
        if isinstance(node, Word):
            return self.word(node)
        if isinstance(node, Phrase):
            if len(node.words) == 1:  # pragma: no cover - the parser makes these Words
                return self.word(node.words[0])
            spec = self.checks.add(_PhraseSpec(node))
            return f"a.phrase({spec}, {_MASK[node.field]})"
        if isinstance(node, Near):
            spec = self.checks.add(_Positional(node))
            return f"a.near({spec})"
        if isinstance(node, Not):
            return f"(not {self.expr(node.child)})"
        parts = sorted((self.expr(c) for c in node.children), key=lambda e: e.startswith("a."))
        joiner = " and " if isinstance(node, And) else " or "
        return "(" + joiner.join(parts) + ")"

    def word(self, node: Word) -> str:
        if node.exact:
            spec = self.checks.add(_WordSpec(node))
            return f"a.exact({spec}, {_MASK[node.field]})"
        key = encode(node.key) + (b"*" if node.prefix else b"")
        if node.field == "title":
            return f"{key!r} in T"
        if node.field == "text":
            return f"{key!r} in X"
        return f"({key!r} in X or {key!r} in T)"


class _Evaluation:
    """The `a` of generated code: lazily evaluated atoms for one article."""

    __slots__ = ("article", "checks", "cache")

    def __init__(self, article: _Article, checks: list[Any]) -> None:
        self.article = article
        self.checks = checks
        self.cache: dict[int, bool] = {}

    def phrase(self, spec: int, mask: int) -> bool:
        key = spec * 4 + mask
        found = self.cache.get(key)
        if found is None:
            phrase = self.checks[spec]
            found = any(mask & (1 << f) and phrase.present(self.article, f) for f in (0, 1))
            self.cache[key] = found
        return found

    def exact(self, spec: int, mask: int) -> bool:
        word = self.checks[spec]
        return any(mask & (1 << f) and word.present(self.article, f) for f in (0, 1))

    def near(self, spec: int) -> bool:
        found = self.cache.get(spec * 4)
        if found is None:
            positional = self.checks[spec]
            found = any(positional.spans(self.article, f) for f in (0, 1))
            self.cache[spec * 4] = found
        return found


class CompiledRules:
    """All rules compiled together; `match()` evaluates them all against one article."""

    def __init__(self, compiled: list[_Compiled], checks: _Checks) -> None:
        self._rules = compiled
        self._checks = checks.items
        self._direct: tuple[dict[bytes, list[int]], dict[bytes, list[int]]] = ({}, {})
        self._candidates: dict[bytes, list[int]] = {}
        prefixes: set[bytes] = set()
        for index, rule in enumerate(compiled):
            root = rule.query.root
            if rule.evaluate is None:
                for word in root.children if isinstance(root, Or) else (root,):
                    assert isinstance(word, Word)
                    key = encode(word.key) + (b"*" if word.prefix else b"")
                    for f in (0, 1):
                        if _MASK[word.field] & (1 << f):
                            self._direct[f].setdefault(key, []).append(index)
                    if word.prefix:
                        prefixes.add(key)
                continue
            atoms = _required_atoms(root) or []
            for key in {k for atom in atoms for k in _trigger_keys(atom)}:
                self._candidates.setdefault(key, []).append(index)
                if key.endswith(b"*"):
                    prefixes.add(key)
        for rule in compiled:
            prefixes.update(_prefix_keys(rule.query.root))
        self._direct_keys = (frozenset(self._direct[0]), frozenset(self._direct[1]))
        self._candidate_keys = frozenset(self._candidates)
        self._automaton: Any = None
        if prefixes:
            automaton = ahocorasick.Automaton()
            for key in prefixes:
                automaton.add_word(" " + key[:-1].decode(), key)
            automaton.make_automaton()
            self._automaton = automaton

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def names(self) -> list[str]:
        return [rule.name for rule in self._rules]

    def _matching(self, title: str, text: str, source: str | None) -> tuple[list[_Compiled], _Article]:
        article = _Article(title or "", text or "")
        words = article.words
        if self._automaton is not None:
            for f in (0, 1):
                if words[f]:
                    joined = " " + b" ".join(words[f]).decode()
                    words[f].update(key for _, key in self._automaton.iter(joined))
        matched: set[int] = set()
        candidates: set[int] = set()
        for f in (0, 1):
            direct = self._direct[f]
            matched.update(*map(direct.__getitem__, words[f] & self._direct_keys[f]))
            candidates.update(*map(self._candidates.__getitem__, words[f] & self._candidate_keys))
        candidates -= matched
        if candidates:
            evaluation = _Evaluation(article, self._checks)
            title_words, text_words = words
            rules = self._rules
            for index in candidates:
                if rules[index].evaluate(title_words, text_words, evaluation):  # type: ignore[misc]
                    matched.add(index)
        out = []
        for index in sorted(matched):
            rule = self._rules[index]
            if source is None or rule.sources is None or source in rule.sources:
                out.append(rule)
        return out, article

    def match_names(self, title: str, text: str, source: str | None = None) -> list[str]:
        """Return the names of the rules that match, in rule-definition order (no explanation)."""
        return [rule.name for rule in self._matching(title, text, source)[0]]

    def match(self, title: str, text: str, source: str | None = None) -> list[RuleMatch]:
        """Return the rules that match the article, in rule-definition order, explained."""
        rules, _ = self._matching(title, text, source)
        if not rules:
            return []
        plain = reference.Article(title or "", text or "")
        return [explain(rule.name, rule.query, plain) for rule in rules]


# ---------------------------------------------------------------------------- explanations


def explain(name: str, query: Query, article: reference.Article) -> RuleMatch:
    """Return the rule's hits per field (surface forms, in order, once each) and its snippet."""
    _, hits = reference.explain(query.root, article)
    by_field: dict[str, list[str]] = {}
    spans: dict[str, list[tuple[int, int]]] = {f: [] for f in FIELDS}
    for field_name, span in hits:
        spans[field_name].append(span)
    for field_name in FIELDS:
        words = article.fields[field_name]
        seen: set[str] = set()
        for start, end in sorted(set(spans[field_name])):
            key = " ".join(words.folded[start : end + 1])
            if key in seen:
                continue
            seen.add(key)
            surface = words.text[words.matches[start].start() : words.matches[end].end()]
            by_field.setdefault(field_name, []).append(" ".join(surface.split()))
    snippet_field = "text" if spans["text"] else "title"
    snippet = make_snippet(article.fields[snippet_field], sorted(set(spans[snippet_field])))
    return RuleMatch(rule=name, hits=by_field, snippet=snippet)


_WHITESPACE = re.compile(r"\s+")


def _clean(text: str) -> str:
    return _WHITESPACE.sub(" ", text.replace("**", "*"))


def make_snippet(words: reference.FieldWords, spans: Sequence[tuple[int, int]]) -> str:
    """Return a few dozen words around the first span, each span inside wrapped in **…**."""
    matches, text = words.matches, words.text
    if not matches:
        return _clean(text).strip()
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if merged:
        first = max(0, merged[0][0] - SNIPPET_BEFORE)
        last = min(len(matches) - 1, max(merged[0][1], merged[0][0] + SNIPPET_AFTER))
    else:
        first, last = 0, min(len(matches), SNIPPET_BEFORE + SNIPPET_AFTER) - 1
    # Keep the punctuation that follows the last word (a full stop, a closing quote).
    stop = matches[last + 1].start() if last + 1 < len(matches) else len(text)
    pieces: list[str] = ["… " if first > 0 else ""]
    cursor = matches[first].start()
    for start, end in merged:
        if start < first or end > last:
            continue
        begin, finish = matches[start].start(), matches[end].end()
        pieces.append(_clean(text[cursor:begin]))
        pieces.append("**" + _clean(text[begin:finish]) + "**")
        cursor = finish
    pieces.append(_clean(text[cursor:stop]).rstrip())
    if last < len(matches) - 1:
        pieces.append(" …")
    return "".join(pieces).strip()


# ---------------------------------------------------------------------------- entry points


def _rule_fields(rule: Any) -> tuple[str, str, Iterable[str] | None, bool]:
    if isinstance(rule, dict):
        return rule["name"], rule["query"], rule.get("sources"), rule.get("enabled", True)
    return rule.name, rule.query, getattr(rule, "sources", None), getattr(rule, "enabled", True)


def compile_rules(rules: Sequence[Any]) -> CompiledRules:
    """Return the enabled rules compiled together; raise RuleError naming a malformed rule."""
    checks = _Checks()
    codegen = _CodeGen(checks)
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
        entry = _Compiled(name, query, frozenset(sources) if sources is not None else None, None)
        compiled.append(entry)
        if not _is_direct(query.root):
            generated.append((entry, f"lambda T, X, a: {codegen.expr(query.root)}"))
    if generated:
        source = "(" + ",\n".join(code for _, code in generated) + ",)"
        functions = eval(compile(source, "<rules>", "eval"), {})  # noqa: S307 - code we generated
        for (entry, _), function in zip(generated, functions, strict=True):
            entry.evaluate = function
    return CompiledRules(compiled, checks)


def compile_query(query: str, name: str = "query") -> CompiledRules:
    """Return one ad-hoc query compiled as a rule (for the archive search and `rules test`)."""
    return compile_rules([{"name": name, "query": query}])
