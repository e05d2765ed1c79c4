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
from dataclasses import dataclass, field
from typing import Literal

from alerts.rules.text import TOKEN_RE, fold, fold_exact

Field = Literal["title", "text"]
FIELDS: tuple[Field, ...] = ("title", "text")


class QuerySyntaxError(ValueError):
    """A malformed query: `column` (1-based) and `message` say where and what was expected."""

    def __init__(self, column: int, message: str) -> None:
        self.column = column
        self.message = message
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"column {self.column}: {self.message}"


# ---------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Word:
    """One word (`key` folded, or accent-free with case kept when `exact`), maybe a prefix."""

    key: str
    prefix: bool = False
    exact: bool = False
    field: Field | None = None
    surface: str = ""
    column: int = 0

    def __str__(self) -> str:
        return _scoped(self.field, ("=" if self.exact else "") + self.key + ("*" if self.prefix else ""))


@dataclass(frozen=True)
class Phrase:
    """Consecutive words in one field."""

    words: tuple[Word, ...]
    field: Field | None = None
    column: int = 0

    def __str__(self) -> str:
        exact = all(w.exact for w in self.words)
        inner = " ".join(
            ("" if exact or not w.exact else "=") + w.key + ("*" if w.prefix else "") for w in self.words
        )
        return _scoped(self.field, ("=" if exact else "") + f'"{inner}"')


@dataclass(frozen=True)
class Near:
    """Both sides within `distance` words (words strictly between them), either order."""

    left: Node
    right: Node
    distance: int
    column: int = 0

    def __str__(self) -> str:
        return f"({self.left} NEAR/{self.distance} {self.right})"


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Not:
    child: Node

    def __str__(self) -> str:
        return f"NOT {self.child}"


Node = Word | Phrase | Near | And | Or | Not
Atom = Word | Phrase | Near


def _scoped(scope: Field | None, text: str) -> str:
    return f"{scope}:{text}" if scope else text


@dataclass(frozen=True)
class Query:
    """A parsed query: the source text and its tree."""

    text: str
    root: Node
    atoms: tuple[Atom, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        text = str(self.root)
        return text[1:-1] if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]) else text


def _balanced(text: str) -> bool:
    depth = 0
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


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


def is_positional(node: Node) -> bool:
    """True for what may stand beside NEAR: words, phrases, NEARs and ORs of those."""
    if isinstance(node, Word | Phrase | Near):
        return True
    return isinstance(node, Or) and all(is_positional(child) for child in node.children)


def _check_positional(node: Node, column: int, operator: str) -> None:
    if not is_positional(node):
        raise QuerySyntaxError(
            column,
            f"each side of {operator} must be a word, prefix, phrase or a parenthesised OR of those "
            "(no AND / NOT inside)",
        )


def required_atoms(node: Node, negated: bool = False) -> list[Atom] | None:
    """Return atoms at least one of which must be present for `node` to be true, or None when
    `node` can be true with none of its words present (it only excludes)."""
    if isinstance(node, Word | Phrase | Near):
        return None if negated else [node]
    if isinstance(node, Not):
        return required_atoms(node.child, not negated)
    # NOT (a AND b) is NOT a OR NOT b, and NOT (a OR b) is NOT a AND NOT b.
    if isinstance(node, Or) != negated:
        out: list[Atom] = []
        for child in node.children:
            found = required_atoms(child, negated)
            if found is None:
                return None
            out.extend(found)
        return out
    options = [found for child in node.children if (found := required_atoms(child, negated)) is not None]
    if not options:
        return None
    return min(options, key=lambda atoms: (len(atoms), -sum(_weight(a) for a in atoms)))


def _weight(atom: Atom) -> int:
    """A guess of how selective an atom is (longer, non-prefix words occur less often)."""
    if isinstance(atom, Word):
        return len(atom.key) - (3 if atom.prefix else 0)
    if isinstance(atom, Phrase):
        return max(_weight(w) for w in atom.words) + 2
    return max(_weight(a) for a in _near_atoms(atom))


def _near_atoms(node: Node) -> list[Atom]:
    if isinstance(node, Near):
        return _near_atoms(node.left) + _near_atoms(node.right)
    if isinstance(node, Or):
        return [a for child in node.children for a in _near_atoms(child)]
    return [node]  # type: ignore[list-item]


def atoms_of(node: Node) -> list[Atom]:
    """Return every atom (word, phrase, NEAR) of the tree, left to right."""
    if isinstance(node, Word | Phrase | Near):
        return [node]
    if isinstance(node, Not):
        return atoms_of(node.child)
    return [a for child in node.children for a in atoms_of(child)]


def parse_query(text: str) -> Query:
    """Return the parsed query; raise QuerySyntaxError (with the column) when it is malformed."""
    if not isinstance(text, str):
        raise QuerySyntaxError(1, "the query must be text")
    root = _Parser(text).parse()
    if required_atoms(root) is None:
        raise QuerySyntaxError(
            1,
            "the query only excludes (NOT …): it would match articles without any of its words; "
            "add a word, prefix or phrase that must be present",
        )
    return Query(text=text, root=root, atoms=tuple(atoms_of(root)))
