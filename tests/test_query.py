"""The query language's grammar: precedence, scopes, NEAR, exact case, and errors with columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.rules.query import QuerySyntaxError, parse_query
from alerts.rules.tree import Near, Phrase, Word
from newswatch.app import load_checked_rules as load_rules
from newswatch.core.errors import ConfigError


def shape(query: str) -> str:
    return str(parse_query(query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a OR b AND NOT c", "a OR (b AND NOT c)"),
        ("NOT a b OR c", "(NOT a AND b) OR c"),
        ("a b c", "a AND b AND c"),
        ("a AND b c OR d", "(a AND b AND c) OR d"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("a NOT b", "a AND NOT b"),
        ("NOT NOT a", "NOT NOT a"),
    ],
)
def test_not_binds_tighter_than_and_which_binds_tighter_than_or(query: str, expected: str) -> None:
    assert shape(query) == expected


def test_near_binds_tighter_than_not_and_and() -> None:
    assert shape("a NEAR/3 b AND c") == "(a NEAR/3 b) AND c"
    assert shape("c a NEAR/3 b") == "c AND (a NEAR/3 b)"
    assert shape("x AND NOT a NEAR/2 b") == "x AND NOT (a NEAR/2 b)"
    assert shape("a NEAR/1 b NEAR/2 c") == "(a NEAR/1 b) NEAR/2 c"


def test_near_takes_phrases_prefixes_and_or_groups_as_sides() -> None:
    root = parse_query('(NASA OR НАСА) NEAR/30 (Roscosmos OR "Russian space agency" OR Роскосмос*)').root
    assert isinstance(root, Near) and root.distance == 30
    assert shape('"crew dragon" NEAR/0 launch*') == '"crew dragon" NEAR/0 launch*'


def test_operators_are_upper_case_and_lower_case_ones_are_words() -> None:
    assert shape("nasa or roscosmos") == "nasa AND or AND roscosmos"
    assert shape("near and not") == "near AND and AND not"
    assert shape("nasa near/5 roscosmos") == "nasa NEAR/5 roscosmos"  # cannot be a word


def test_words_are_folded_and_exact_words_keep_their_case() -> None:
    assert shape("Baïkonur РОСКОСМОС Ёлка") == "baikonur AND роскосмос AND елка"
    word = parse_query("=МКС").root
    assert isinstance(word, Word) and word.exact and word.key == "МКС"
    assert parse_query("=Baïkonur").root.key == "Baikonur"


def test_an_unquoted_word_with_separators_is_a_phrase() -> None:
    root = parse_query("de-orbit").root
    assert isinstance(root, Phrase) and [w.key for w in root.words] == ["de", "orbit"]
    assert shape("Roscosmos’s") == '"roscosmos s"'
    assert shape("Crew-1*") == '"crew 1*"'
    assert shape('"Crew-1*"') == '"crew 1*"'
    assert shape('"USDV"') == "usdv"
    assert shape('"Crew-1"*') == '"crew 1*"'  # the FTS5 spelling of the same


def test_field_scopes_apply_to_terms_phrases_and_groups_and_the_innermost_wins() -> None:
    assert shape("title:ISS") == "title:iss"
    assert shape('text:"space station"') == 'text:"space station"'
    assert shape("title:(a OR text:b) c") == "(title:a OR text:b) AND c"
    assert shape("TITLE:a") == "title:a"
    assert shape("title:(a NEAR/2 b)") == "title:a NEAR/2 title:b"


def test_exact_phrase_and_exact_prefix() -> None:
    assert shape('="Space Station"') == '="Space Station"'
    assert shape("=NASA*") == "=NASA*"


@pytest.mark.parametrize(
    ("query", "column", "fragment"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("deorbit AND", 12, "expected a term after AND"),
        ("a OR OR b", 6, "expected a term after OR"),
        ("AND a", 1, "expected a term before AND"),
        ("(a OR b", 8, "expected ')' to close '(' at column 1"),
        ("a OR b)", 7, "unexpected ')'"),
        ('ISS "space station', 5, "unclosed '\"'"),
        ('a ""', 3, "empty phrase"),
        ("a NEAR b", 3, "NEAR/n"),
        ("a NEAR/x b", 3, "NEAR/n"),
        ("a NEAR/-2 b", 3, "NEAR/n"),
        ("NEAR/3 b", 1, "expected a term before NEAR/3"),
        ("a NEAR/3", 9, "after NEAR/3"),
        ("(a AND b) NEAR/3 c", 1, "each side of NEAR/3"),
        ("a NEAR/3 NOT b", 10, "NOT cannot be a side"),
        ("title:", 7, "after title:"),
        ("headline:ISS", 1, "unknown field 'headline:'"),
        ("de*orbit", 3, "'*' can only end a word"),
        ("*", 1, "expected a word before '*'"),
        ('"a * b"', 4, "'*' must directly follow a word"),
        ("=", 1, "expected a word after '='"),
        ("-ISS", 1, "write NOT ISS"),
        ("ISS & NASA", 5, "is not a word"),
        ("()", 2, "empty parentheses"),
        ("a NOT", 6, "expected a term after NOT"),
        ("(" * 40 + "a" + ")" * 40, 33, "nested too deeply"),
        ("x " + "NOT " * 40 + "a", 131, "nested too deeply"),
        ("a" + " NEAR/1 a" * 40, 291, "nested too deeply"),
    ],
)
def test_malformed_queries_say_where_and_what_was_expected(query: str, column: int, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert caught.value.column == column, caught.value.describe()
    assert fragment in caught.value.message
    assert caught.value.describe() == f"column {column}: {caught.value.message}"


@pytest.mark.parametrize("query", ["NOT x", "NOT a OR NOT b", "a OR NOT b", "NOT (a AND b)", "NOT NOT NOT a"])
def test_a_query_that_can_only_exclude_is_an_error(query: str) -> None:
    with pytest.raises(QuerySyntaxError, match="only excludes"):
        parse_query(query)


@pytest.mark.parametrize("query", ["a AND NOT b", "NOT NOT a", "NOT (NOT a OR NOT b)", "x NOT (a OR b)"])
def test_a_query_that_requires_a_word_is_accepted_even_with_negations(query: str) -> None:
    parse_query(query)


def test_every_bundled_rule_parses() -> None:
    rules = load_rules(Path(__file__).resolve().parent.parent / "config" / "rules.yaml")
    assert {r.name for r in rules} >= {"roscosmos", "iss-deorbit"}
    for rule in rules:
        parse_query(rule.query)


def test_a_malformed_rule_in_rules_yaml_names_the_rule_and_the_column(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - name: ok\n    query: ISS\n  - name: broken\n    query: 'deorbit AND (ISS'\n")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert "rules[1] 'broken'" in message and "field 'query'" in message
    assert "column 17: expected ')' to close '(' at column 13" in message
