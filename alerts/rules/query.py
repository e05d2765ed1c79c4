"""The query language: parsing a rule's query into a tree, with errors that give the column.

| form | meaning |
|---|---|
| `deorbit` | the whole word, case- and accent-insensitive (`alerts/text.py` says what a word is) |
| `deorbit*` | any word starting with `deorbit` |
| `"space station"` | these words consecutively; punctuation and line breaks between them ignored; a word in a phrase may end in `*` (`"Crew-1*"`) |
| `de-orbit`, `Roscosmos’s` | an unquoted word that contains separators is a phrase (`"de orbit"`) |
| `a b`, `a AND b` | both; `a OR b` either; `NOT a` excludes; parentheses group |
| precedence | `NEAR/n` > `NOT` > `AND` (also implicit) > `OR` |
| `title:ISS`, `text:(a OR b)` | only in that field (`title`, `text`); default is both; the innermost field wins |
| `NASA NEAR/5 Roscosmos` | at most 5 words between them, either order, in the same field; each side a word, prefix, phrase, or a parenthesised OR of those (or another NEAR) |
| `=ISS`, `="Space Station"` | exact case (accents are still ignored), still whole words |

Operators are upper-case (`AND OR NOT NEAR/n`); lower-case `and`, `or`, `not`, `near` are
ordinary words (but `near/5`, which cannot be a word, is NEAR/5). A query is an error if it is empty, malformed, or could match an article
without any of its words being present (`NOT x`, `NOT a OR NOT b`, `a OR NOT b`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from alerts.rules.text import TOKEN_RE, fold, fold_exact
from alerts.rules.tree import (
    FIELDS,
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Query,
    Word,
    atoms_of,
    is_positional,
    required_atoms,
)


class QuerySyntaxError(ValueError):
    """A malformed query: `column` (1-based) and `message` say where and what was expected."""

    def __init__(self, column: int, message: str) -> None:
        self.column = column
        self.message = message
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"column {self.column}: {self.message}"


# ---------------------------------------------------------------------------- lexing

_NEAR = re.compile(r"NEAR/(\d+)$", re.IGNORECASE)
_FIELD = re.compile(r"([A-Za-z]+):")


@dataclass
class _Token:
    kind: str  # WORD PHRASE LPAREN RPAREN AND OR NOT NEAR FIELD END
    column: int
    text: str = ""
    value: object = None


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        column = i + 1
        if char.isspace():
            i += 1
        elif char == "(":
            tokens.append(_Token("LPAREN", column, "("))
            i += 1
        elif char == ")":
            tokens.append(_Token("RPAREN", column, ")"))
            i += 1
        elif char == '"' or (char == "=" and query.startswith('="', i)):
            exact = char == "="
            start = i + 2 if exact else i + 1
            end = query.find('"', start)
            if end < 0:
                raise QuerySyntaxError(column, "unclosed '\"': add the closing quote of the phrase")
            words = _phrase(query[start:end], start + 1, exact)
            if query.startswith("*", end + 1):  # "Crew-1"* as FTS5 writes it: the last word is a prefix
                last = words[-1]
                words = (*words[:-1], Word(last.key, True, last.exact, None, last.surface, last.column))
                end += 1
            tokens.append(_Token("PHRASE", column, query[i : end + 1], words))
            i = end + 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in '()"':
                j += 1
            word = query[i:j]
            scope = _FIELD.match(word)
            if scope:
                name = scope.group(1).lower()
                if name not in FIELDS:
                    raise QuerySyntaxError(
                        column, f"unknown field '{scope.group(1)}:' (the fields are title: and text:)"
                    )
                tokens.append(_Token("FIELD", column, word[: scope.end()], name))
                i += scope.end()
                continue
            i = j
            if word in ("AND", "OR", "NOT"):
                tokens.append(_Token(word, column, word))
            elif word == "NEAR" or word[:5].upper() == "NEAR/":
                near = _NEAR.match(word)
                if not near:
                    raise QuerySyntaxError(
                        column,
                        f"'{word}' is not NEAR/n: write NEAR/ and a whole number of words, e.g. NEAR/5",
                    )
                tokens.append(_Token("NEAR", column, word, int(near.group(1))))
            else:
                tokens.append(_Token("WORD", column, word, _bare_word(word, column)))
    tokens.append(_Token("END", n + 1, "end of query"))
    return tokens


def _bare_word(word: str, column: int) -> tuple[Word, ...]:
    """Return the words of one unquoted query word (several → a phrase)."""
    exact = word.startswith("=")
    body = word[1:] if exact else word
    offset = column + (1 if exact else 0)
    if not body:
        raise QuerySyntaxError(column, "expected a word after '=' (e.g. =ISS)")
    stars = len(body) - len(body.rstrip("*"))
    core = body[: len(body) - stars] if stars else body
    if "*" in core:
        raise QuerySyntaxError(offset + core.index("*"), "'*' can only end a word (a prefix, e.g. deorbit*)")
    if body.startswith("-") and TOKEN_RE.search(body):
        raise QuerySyntaxError(column, f"'{word}': to exclude a word write NOT {body.lstrip('-')}")
    matches = list(TOKEN_RE.finditer(core))
    if not matches:
        if stars and not core:
            raise QuerySyntaxError(column, "expected a word before '*' (a prefix, e.g. deorbit*)")
        raise QuerySyntaxError(column, f"'{word}' is not a word: a word needs letters or digits")
    if stars and matches[-1].end() != len(core):
        raise QuerySyntaxError(offset + len(core), "'*' must directly follow the letters of a word")
    words = []
    for index, m in enumerate(matches):
        prefix = bool(stars) and index == len(matches) - 1
        words.append(_word(m.group(), prefix, exact, offset + m.start()))
    return tuple(words)


def _phrase(body: str, column: int, exact: bool) -> tuple[Word, ...]:
    words = []
    position = 0
    for m in TOKEN_RE.finditer(body):
        gap = body[position : m.start()]
        if "*" in gap:
            raise QuerySyntaxError(
                column + position + gap.index("*"),
                "'*' must directly follow a word (a prefix, e.g. \"Crew-1*\")",
            )
        prefix = body.startswith("*", m.end())
        words.append(_word(m.group(), prefix, exact, column + m.start()))
        position = m.end() + (1 if prefix else 0)
    if "*" in body[position:]:
        raise QuerySyntaxError(
            column + position + body[position:].index("*"),
            "'*' must directly follow a word (a prefix, e.g. \"Crew-1*\")",
        )
    if not words:
        raise QuerySyntaxError(column - 1, "empty phrase: put words between the quotes")
    return tuple(words)


def _word(surface: str, prefix: bool, exact: bool, column: int) -> Word:
    key = fold_exact(surface) if exact else fold(surface)
    return Word(key=key, prefix=prefix, exact=exact, surface=surface, column=column)


# ---------------------------------------------------------------------------- parsing

_STARTS_OPERAND = frozenset({"WORD", "PHRASE", "LPAREN", "NOT", "FIELD"})


MAX_NESTING = 32


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.index = 0
        self.depth = 0

    def deeper(self, token: _Token) -> None:
        """Count one more level of nesting; refuse absurd depths (they would only exhaust the stack)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise QuerySyntaxError(
                token.column,
                f"nested too deeply: at most {MAX_NESTING} levels of parentheses, NOT, fields and NEAR",
            )

    @property
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect_operand(self, after: _Token) -> None:
        token = self.peek
        if token.kind not in _STARTS_OPERAND:
            what = "a term" if after.kind != "NEAR" else "a word, prefix, phrase or group"
            raise QuerySyntaxError(token.column, f"expected {what} after {after.text}{_found(token)}")

    def parse(self) -> Node:
        token = self.peek
        if token.kind == "END":
            raise QuerySyntaxError(1, "empty query: write at least one word")
        node = self.parse_or()
        token = self.peek
        if token.kind == "RPAREN":
            raise QuerySyntaxError(token.column, "unexpected ')' without a matching '('")
        if token.kind != "END":  # pragma: no cover - every other token starts or joins an operand
            raise QuerySyntaxError(token.column, f"unexpected {token.text}")
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.peek.kind == "OR":
            operator = self.take()
            self.expect_operand(operator)
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(_flatten(children, Or)))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while True:
            kind = self.peek.kind
            if kind == "AND":
                operator = self.take()
                self.expect_operand(operator)
            elif kind not in _STARTS_OPERAND:
                break
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(tuple(_flatten(children, And)))

    def parse_unary(self) -> Node:
        if self.peek.kind == "NOT":
            operator = self.take()
            self.expect_operand(operator)
            self.deeper(operator)
            node = Not(self.parse_unary())
            self.depth -= 1
            return node
        return self.parse_near()

    def parse_near(self) -> Node:
        start = self.peek
        left = self.parse_primary()
        chain = 0
        while self.peek.kind == "NEAR":
            operator = self.take()
            chain += 1
            self.deeper(operator)
            if self.peek.kind == "NOT":
                raise QuerySyntaxError(self.peek.column, f"NOT cannot be a side of {operator.text}")
            self.expect_operand(operator)
            right_start = self.peek
            right = self.parse_primary()
            _check_positional(left, start.column, operator.text)
            _check_positional(right, right_start.column, operator.text)
            left = Near(left, right, int(operator.value), operator.column)
        self.depth -= chain
        return left

    def parse_primary(self) -> Node:
        token = self.peek
        if token.kind == "FIELD":
            self.take()
            inner = self.peek
            if inner.kind not in ("WORD", "PHRASE", "LPAREN", "FIELD"):
                raise QuerySyntaxError(
                    inner.column, f"expected a word, phrase or '(' after {token.text}{_found(inner)}"
                )
            self.deeper(token)
            node = _scope(self.parse_primary(), token.value)
            self.depth -= 1
            return node
        if token.kind == "LPAREN":
            self.take()
            self.deeper(token)
            if self.peek.kind == "RPAREN":
                raise QuerySyntaxError(self.peek.column, "empty parentheses: expected a term after '('")
            if self.peek.kind not in _STARTS_OPERAND:
                raise QuerySyntaxError(self.peek.column, f"expected a term after '('{_found(self.peek)}")
            node = self.parse_or()
            if self.peek.kind != "RPAREN":
                raise QuerySyntaxError(
                    self.peek.column, f"expected ')' to close '(' at column {token.column}{_found(self.peek)}"
                )
            self.take()
            self.depth -= 1
            return node
        if token.kind in ("WORD", "PHRASE"):
            self.take()
            words = token.value
            if len(words) == 1:
                return words[0]
            return Phrase(words, column=token.column)
        if token.kind == "RPAREN":
            raise QuerySyntaxError(token.column, "unexpected ')' without a matching '('")
        if token.kind == "END":
            raise QuerySyntaxError(token.column, "expected a term at the end of the query")
        raise QuerySyntaxError(token.column, f"expected a term before {token.text}")


def _found(token: _Token) -> str:
    return " (found the end of the query)" if token.kind == "END" else f" (found {token.text})"


def _flatten(children: list[Node], kind: type) -> list[Node]:
    out: list[Node] = []
    for child in children:
        out.extend(child.children if isinstance(child, kind) else (child,))
    return out


def _scope(node: Node, scope: Field) -> Node:
    """Return `node` limited to field `scope`; an inner scope already set wins."""
    if isinstance(node, Word):
        return (
            node if node.field else Word(node.key, node.prefix, node.exact, scope, node.surface, node.column)
        )
    if isinstance(node, Phrase):
        return node if node.field else Phrase(node.words, scope, node.column)
    if isinstance(node, Near):
        return Near(_scope(node.left, scope), _scope(node.right, scope), node.distance, node.column)
    if isinstance(node, Not):
        return Not(_scope(node.child, scope))
    return type(node)(tuple(_scope(child, scope) for child in node.children))


def _check_positional(node: Node, column: int, operator: str) -> None:
    if not is_positional(node):
        raise QuerySyntaxError(
            column,
            f"each side of {operator} must be a word, prefix, phrase or a parenthesised OR of those "
            "(no AND / NOT inside)",
        )


def parse_query(text: str) -> Query:
    """Return the parsed query; raise QuerySyntaxError (with the column) when it is malformed."""
    if not isinstance(text, str):
        raise QuerySyntaxError(1, "the query must be text")
    return _parse_text(text)


@lru_cache(maxsize=1 << 17)
def _parse_text(text: str) -> Query:
    # Trees are frozen: the check of a rules file and its compilation share one parse.
    root = _Parser(text).parse()
    if required_atoms(root) is None:
        raise QuerySyntaxError(
            1,
            "the query only excludes (NOT …): it would match articles without any of its words; "
            "add a word, prefix or phrase that must be present",
        )
    return Query(text=text, root=root, atoms=tuple(atoms_of(root)))


def query_problem(text: str) -> str | None:
    """Return what is wrong with a query ('column 17: expected …'), or None when it parses."""
    try:
        parse_query(text)
    except QuerySyntaxError as exc:
        return exc.describe()
    return None
