"""Changing one rule of a compiled set (`CompiledRules.with_rule`, `.without_rule`, `.updated`):
the result matches and explains exactly as a full compile of the resulting rules would."""

from __future__ import annotations

import random

import pytest

from alerts.rules import lexicon
from alerts.rules.compiled import RuleError, compile_rules

QUERIES = [
    "ISS", "deorbit*", '"space station"', "NASA AND NOT Roscosmos", "(ISS OR МКС) AND crew*",
    "title:leak", "NASA NEAR/3 Roscosmos", "=NASA", '"Crew-1*" OR Soyuz', "text:(station OR orbit)",
    "Роскосмос*", '"international space station" NOT rumour', "space station", "café OR Baïkonur",
]  # fmt: skip
ARTICLES = [
    ("ISS crew news", "NASA and Roscosmos plan to deorbit the International Space Station."),
    ("Leak on the ISS", "A rumour: the space station leak, says Роскосмос; NASA’s crew is fine."),
    ("Союз МС", "Запуск на МКС: экипаж Crew-11 и Soyuz; Baikonur café."),
    ("nothing", "Mission control said nothing of note about orbit."),
]


@pytest.fixture(autouse=True, params=["C chunk table", "pure Python"])
def lexicon_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexicon, "USE_C_SCAN", request.param == "C chunk table")


def outcome(compiled, articles=ARTICLES) -> list:
    return [[(m.rule, m.hits, m.snippet) for m in compiled.match(t, x)] for t, x in articles]


def test_with_rule_adds_at_the_end_and_replaces_in_place() -> None:
    rules = [{"name": "a", "query": "ISS"}, {"name": "b", "query": "NASA"}]
    compiled = compile_rules(rules)
    grown = compiled.with_rule({"name": "c", "query": "deorbit*"})
    assert grown.match_names(*ARTICLES[0]) == ["a", "b", "c"]
    edited = grown.with_rule({"name": "a", "query": "Roscosmos"})
    assert edited.match_names(*ARTICLES[0]) == ["a", "b", "c"]
    assert edited.match_names("ISS", "") == []
    assert compiled.match_names(*ARTICLES[0]) == ["a", "b"]  # the original is untouched
    assert len(edited) == 3 and edited.names == ["a", "b", "c"]


def test_without_rule_and_a_disabled_rule_take_it_out() -> None:
    compiled = compile_rules([{"name": "a", "query": "ISS"}, {"name": "b", "query": "NASA"}])
    assert compiled.without_rule("a").match_names(*ARTICLES[0]) == ["b"]
    assert compiled.with_rule({"name": "b", "query": "NASA", "enabled": False}).names == ["a"]
    assert compiled.without_rule("nope").names == ["a", "b"]


def test_a_malformed_rule_changes_nothing() -> None:
    compiled = compile_rules([{"name": "a", "query": "ISS"}])
    with pytest.raises(RuleError, match="rule 'bad': column 8"):
        compiled.updated([{"name": "c", "query": "NASA"}, {"name": "bad", "query": "ISS AND"}])
    assert compiled.names == ["a"] and compiled.match_names("ISS NASA", "") == ["a"]


@pytest.mark.parametrize("seed", range(6))
def test_random_changes_match_a_full_compile(seed: int) -> None:
    rng = random.Random(seed)
    current: dict[str, dict] = {}
    compiled = compile_rules([])
    for step in range(40):
        name = f"r{rng.randrange(10)}"
        if current and rng.random() < 0.3:
            compiled = compiled.without_rule(name)
            current.pop(name, None)
        else:
            rule = {"name": name, "query": rng.choice(QUERIES), "enabled": rng.random() > 0.1}
            if rng.random() < 0.2:
                rule["sources"] = ["tass"]
            compiled = compiled.with_rule(rule)
            if rule["enabled"]:
                current[name] = rule
            else:
                current.pop(name, None)
        # Matching between changes fills the lexicon the next change may keep or replace.
        compiled.match_names(*ARTICLES[step % len(ARTICLES)])
        full = compile_rules(list(current.values()))
        assert compiled.names == full.names
        assert outcome(compiled) == outcome(full), step
        assert [compiled.match_names(t, x, "tass") for t, x in ARTICLES] == [
            full.match_names(t, x, "tass") for t, x in ARTICLES
        ]
