"""The compiled matcher: every query form on tricky text, explanations, rule options, the
`newswatch match` command, and agreement with the plain reference evaluator (hypothesis)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from alerts.rules import hits, lexicon, reference
from alerts.rules.compiled import RuleError, compile_rules
from alerts.rules.explanations import explain
from alerts.rules.query import QuerySyntaxError, parse_query
from alerts.rules.scanned import ScannedArticle
from alerts.rules.text import ScannedText, exact_words, query_words
from newswatch.app import load_checked_rules as load_rules
from newswatch.core.config import Rule

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, params=["C chunk table", "C chunk table, hits in Python", "pure Python"])
def lexicon_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with the C extensions (the chunk table of alerts.rules._scan, the hits
    of alerts.rules._explain), with the chunk table alone, and in pure Python."""
    monkeypatch.setattr(lexicon, "USE_C_SCAN", request.param != "pure Python")
    if request.param == "C chunk table, hits in Python":
        monkeypatch.setattr(hits, "_explain", None)
    return str(request.param)


def test_the_c_chunk_table_is_built_where_a_compiler_is(lexicon_backend: str) -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler here: newswatch runs on the pure-Python lexicon")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        pytest.skip("no Python headers here: newswatch runs on the pure-Python lexicon")
    assert lexicon._scan is not None, "alerts.rules._scan was not compiled: see the output of `make install`"
    assert lexicon_backend == "C chunk table, hits in Python" or hits._explain is not None, (
        "alerts.rules._explain was not compiled: see `make install`"
    )
    compiled = compile_rules([{"name": "q", "query": "deorbit*"}])
    assert compiled._lexicon.state.table is not None or not lexicon.USE_C_SCAN
    # With the chunk table the hits of flat rules come from the C loop, else from Python: the
    # tests here check both against the reference evaluator.
    assert compiled._plans.indexed == lexicon.USE_C_SCAN


def matches(query: str, title: str = "", text: str = "") -> bool:
    """Whether the compiled matcher matches; also checked against the reference evaluator."""
    got = bool(compile_rules([{"name": "q", "query": query}]).match_names(title, text))
    assert got == reference.evaluate(parse_query(query), title, text), "matcher and reference disagree"
    return got


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # whole words only
        ("ISS", "A missile was fired.", False),
        ("ISS", "The ISS, again.", True),
        ("ISS", "ISS-related news", True),
        ("station", "stations", False),
        # case and accents, both ways; Cyrillic
        ("iss", "THE ISS", True),
        ("Baïkonur", "launched from Baikonur", True),
        ("Baikonur", "launched from BAÏKONUR", True),
        ("Роскосмос", "РОСКОСМОС заявил", True),
        ("РОСКОСМОС", "в роскосмосе", False),
        ("ёлка", "Елка стоит", True),
        ("елка", "ЁЛКА стоит", True),
        ("Straße", "STRASSE", True),
        ("cafe", "café", True),
        ("cafe", "cafe\u0301 (decomposed)", True),
        # apostrophes, hyphens, soft hyphens
        ("Roscosmos", "Roscosmos’s chief", True),
        ("Roscosmos", "Roscosmos's chief", True),
        ("Roscosmos’s", "the Roscosmos' s", True),
        ("deorbit", "the de-orbit burn", False),
        ('"de-orbit"', "the de orbit burn", True),
        ("de-orbit", "the de–orbit burn", True),
        ("roscosmos", "Roscos\u00admos", True),
        # prefixes
        ("deorbit*", "deorbiting the station", True),
        ("deorbit*", "de-orbiting", False),
        ("Роскосмос*", "в Роскосмосе", True),
        ("launch*", "relaunched", False),
        # phrases: punctuation and line breaks between the words do not matter
        ('"International Space Station"', "the International\nSpace — Station", True),
        ('"International Space Station"', "International Space Stations", False),
        ('"Space Station"', "space, station", True),
        ('"Crew-1*"', "Crew-11 launched", True),
        ('"Crew-1*"', "Crew 2 launched", False),
        ('"deorbit* plan"', "deorbiting plan", True),
        # booleans, implicit AND, grouping
        ("NASA Roscosmos", "NASA and Roscosmos", True),
        ("NASA Roscosmos", "NASA alone", False),
        ("NASA OR Roscosmos", "Roscosmos alone", True),
        ("NASA NOT Roscosmos", "NASA and Roscosmos", False),
        ("NASA AND NOT (Roscosmos OR ESA)", "NASA and ESA", False),
        ("NASA AND NOT (Roscosmos OR ESA)", "NASA only", True),
        ("(a OR b) c", "b c", True),
        # NEAR: at most n words between, either order
        ("NASA NEAR/0 Roscosmos", "NASA Roscosmos", True),
        ("NASA NEAR/0 Roscosmos", "Roscosmos, NASA", True),
        ("NASA NEAR/0 Roscosmos", "NASA and Roscosmos", False),
        ("NASA NEAR/1 Roscosmos", "NASA and Roscosmos", True),
        ("NASA NEAR/2 Roscosmos", "Roscosmos met with NASA", True),
        ("NASA NEAR/1 Roscosmos", "Roscosmos met with NASA", False),
        ('"space station" NEAR/3 deorbit*', "deorbiting the old space station", True),
        ("(NASA OR НАСА) NEAR/2 (Roscosmos OR Роскосмос*)", "НАСА и Роскосмоса", True),
        ("NASA NEAR/5 NASA", "NASA alone", False),
        ("NASA NEAR/5 NASA", "NASA and NASA", True),
        ("NASA NEAR/1 Roscosmos", "NASA’s Roscosmos", True),  # a chunk of two words: s is between
        ("NASA NEAR/0 Roscosmos", "NASA’s Roscosmos", False),
        ("NASA NEAR/0 Roscosmos", "Roscosmos — NASA", True),  # a dash is no word
        # exact case: whole words, accents still ignored
        ("=ISS", "Iss is a name", False),
        ("=ISS", "the ISS.", True),
        ("=МКС", "мкс", False),
        ("=МКС", "на МКС", True),
        ("=Baïkonur", "Baikonur", True),
        ("=Baïkonur", "BAIKONUR", False),
        ("=NASA*", "NASAs", True),
        ("=NASA*", "Nasas", False),
        ('="Space Station"', "space station", False),
        ('="Space Station"', "the Space-Station", True),
        # lower-case operators are words
        ("nasa or esa", "esa", False),
        ("nasa or esa", "nasa or esa", True),
        # empty text
        ("ISS", "", False),
    ],
)
def test_query_forms_on_tricky_text(query: str, text: str, expected: bool) -> None:
    assert matches(query, "", text) is expected
    assert matches(query, text, "") is expected  # the same in the title


def test_field_scope_limits_a_term_a_phrase_and_a_group() -> None:
    assert matches("title:ISS", "ISS leak", "no")
    assert not matches("title:ISS", "leak", "ISS")
    assert matches("text:ISS", "leak", "ISS")
    assert matches('title:"space station" leak', "Space station", "a leak")
    assert not matches("title:(leak OR ISS)", "nothing", "leak ISS")
    assert matches("ISS AND leak", "ISS", "leak")  # default: both fields, combined


def test_phrases_and_near_stay_within_one_field() -> None:
    assert not matches('"space station"', "the space", "station is old")
    assert not matches("space NEAR/1 station", "the space", "station is old")
    assert matches("space NEAR/1 station", "the space", "a station in space")


def test_not_in_a_field_excludes_only_there() -> None:
    assert matches("ISS NOT title:rumour", "ISS update", "a rumour")
    assert not matches("ISS NOT title:rumour", "ISS rumour", "text")


def test_hits_list_what_matched_where_as_written_in_order_once() -> None:
    rules = compile_rules(
        [{"name": "deorbit", "query": 'deorbit* AND (ISS OR "International Space Station") AND NOT rumour'}]
    )
    [found] = rules.match(
        "ISS deorbit plan", "NASA will deorbit the International\nSpace Station. The ISS… DEORBIT again, ISS."
    )
    assert found.rule == "deorbit"
    assert found.hits == {
        "title": ["ISS", "deorbit"],
        "text": ["deorbit", "International Space Station", "ISS"],
    }


@pytest.mark.parametrize(
    ("written", "hit"),
    [
        ("Space Station", "Space Station"),
        ("Space-Station", "Space-Station"),
        ("space  station", "space station"),
        ("space\u00a0station", "space station"),
        ("SPACE\t\n station", "SPACE station"),
        ("space – station", "space – station"),
    ],
)
def test_a_phrase_hit_is_written_as_in_the_text_with_its_white_space_made_one_space(
    written: str, hit: str
) -> None:
    [found] = compile_rules([{"name": "r", "query": '"space station"'}]).match("", f"The {written} again.")
    assert found.hits == {"text": [hit]}


def test_snippet_marks_hits_around_the_first_hit_in_the_body() -> None:
    body = (
        " ".join(f"w{i}" for i in range(100))
        + " Roscosmos **said** w200 "
        + " ".join(f"x{i}" for i in range(60))
    )
    [found] = compile_rules([{"name": "r", "query": "Roscosmos"}]).match("Roscosmos title", body)
    assert found.snippet.startswith("… w88 ")
    assert "**Roscosmos** *said* w200" in found.snippet
    assert found.snippet.endswith(" …")
    assert 25 <= len(found.snippet.split()) <= 45


def test_snippet_comes_from_the_title_when_the_body_has_no_hit() -> None:
    [found] = compile_rules([{"name": "r", "query": "leak"}]).match("Leak on the ISS", "Nothing to see.")
    assert found.snippet == "**Leak** on the ISS"
    assert found.hits == {"title": ["Leak"]}


def test_snippet_marks_a_whole_phrase_and_overlapping_hits_once() -> None:
    [found] = compile_rules([{"name": "r", "query": 'crew* "Crew-1*"'}]).match("", "Crew-11 flew.")
    assert found.snippet == "**Crew-11** flew."


def test_sources_option_limits_a_rule_and_disabled_rules_never_match() -> None:
    rules = compile_rules(
        [
            Rule(name="nasa-only", query="ISS", sources=["nasa-news"]),
            Rule(name="off", query="ISS", enabled=False),
            Rule(name="all", query="ISS"),
        ]
    )
    assert [m.rule for m in rules.match("ISS", "", "nasa-news")] == ["nasa-only", "all"]
    assert [m.rule for m in rules.match("ISS", "", "tass")] == ["all"]
    assert rules.match_names("ISS", "") == ["nasa-only", "all"]  # no source given: not limited


def test_matches_come_in_rule_definition_order() -> None:
    rules = compile_rules(
        [{"name": n, "query": q} for n, q in [("z", "b"), ("a", '"a b"'), ("m", "a NEAR/0 b")]]
    )
    assert rules.match_names("", "a b") == ["z", "a", "m"]


def test_a_malformed_rule_is_a_rule_error_with_its_name_and_column() -> None:
    with pytest.raises(RuleError) as caught:
        compile_rules([{"name": "fine", "query": "ISS"}, {"name": "bad", "query": "ISS AND"}])
    assert str(caught.value) == "rule 'bad': column 8: expected a term after AND (found the end of the query)"
    with pytest.raises(RuleError, match="rule 'neg': column 1: the query only excludes"):
        compile_rules([{"name": "neg", "query": "NOT ISS"}])


def test_bundled_rules_match_what_they_are_for() -> None:
    rules = compile_rules(load_rules(REPO / "config" / "rules.yaml"))
    assert rules.match_names("Roscosmos’s new chief", "") == ["roscosmos"]
    assert rules.match_names("", "NASA plans to de-orbit the International Space Station in 2030.") == [
        "iss-deorbit"
    ]
    assert "iss-deorbit" in rules.match_names("Сведение МКС с орбиты", "")
    assert rules.match_names("A missile test", "Mission control") == []


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # a phrase across dashes, quotes and word-less chunks, but not across a word
        ('"space station"', "the space — station", True),
        ('"space station"', "“space” station", True),
        ('"space station"', "space…station", True),
        ('"space station"', "space \u0301 station", True),
        ('"space station"', "space и station", False),
        ('"space station"', "space, the station", False),
        ('"space station"', "space space station", True),
        ('"space station"', "space-station’s", True),
        ('"Crew-1*"', "Crew-11’s flight", True),
        ('"Crew-1*"', "Crew—2", False),
        ('"роскосмос заявил"', "роскосмос — заявил", True),
        ('"роскосмос заявил"', "Роскосмос заявил", True),
        ('"роскосмос заявил"', "роскосмос и заявил", False),
        ('"½ cup"', "add ½ cup", True),  # ½ is one word, 1⁄2 in folded form
        ('"½ cup"', "add 1⁄2 cup", False),  # two words: 1 and 2
        # exact words next to punctuation, accents and letters
        ("=NASA", "NASA’s plan", True),
        ("=NASA", "_NASA_", True),
        ("=NASA", "NAŚA", True),
        ("=NASA", "xNASA NASAx", False),
        ("=NASA", "Nasa’s plan", False),
        # …and where a chunk around the word is not the word alone (the exact form is then
        # looked for where the folded word is, as written)
        ("=NASA", "«NASA» said", True),
        ("=NASA", "«Nasa» said, nasa", False),
        ("=NASA", "«nasa» then NASA", True),
        ("=NASA", "«ＮＡＳＡ»", True),
        ("=NASA", "«ＮＡＳＡs»", False),
        ("=ISS*", "ISSues", True),
        ("=ISS*", "the iss ISs", False),
    ],
)
def test_phrases_and_exact_words_on_punctuated_text(query: str, text: str, expected: bool) -> None:
    assert matches(query, "", text) is expected
    assert matches(query, text, "") is expected


def test_many_phrases_in_one_field_agree_with_the_reference() -> None:
    text = "the old space station — “deorbit plan” for NASA’s crew, then a new space race"
    phrases = ['"space station"', '"deorbit plan"', '"nasa s crew"', '"new space race"', '"old space"',
               '"station deorbit"', '"plan for"', '"crew then"', '"space race"', '"race space"']  # fmt: skip
    rules = [{"name": f"p{i}", "query": q} for i, q in enumerate(phrases)]
    expected = [r["name"] for r in rules if reference.evaluate(parse_query(r["query"]), "", text)]
    assert compile_rules(rules).match_names("", text) == expected
    assert expected == [f"p{i}" for i in range(9)]


def test_matching_stays_right_across_articles_when_the_lexicon_fills_up() -> None:
    rules = [
        {"name": "prefix", "query": "deorbit*"},
        {"name": "word", "query": "Roscosmos"},
        {"name": "phrase", "query": '"space station"'},
    ]
    compiled = compile_rules(rules)
    compiled._lexicon.limit = 5  # replaced every few new words
    articles = [
        ("Deorbiting", "Roscosmos’s space station"),
        ("news", "deorbited — ROSCOSMOS and a space-station"),
        ("other", "nothing here at all today"),
        ("Roscosmos", "the DEORBIT of the space station"),
    ] * 3
    for title, text in articles:
        expected = [r["name"] for r in rules if reference.evaluate(parse_query(r["query"]), title, text)]
        assert compiled.match_names(title, text) == expected
    state = compiled._lexicon.state
    assert len(state) <= 5 + 12  # replaced, never grown past the limit by much
    assert all(key in state.keys_of(chunk) for key, chunks in state.changing.items() for chunk in chunks)


def test_a_replaced_lexicon_learns_the_known_chunks_of_the_article_too() -> None:
    compiled = compile_rules([{"name": "word", "query": "Roscosmos"}])
    compiled._lexicon.limit = 1
    assert compiled.match_names("a", "Roscosmos x") == ["word"]
    assert compiled.match_names("a", "Roscosmos y") == ["word"]  # replaced: y is new, Roscosmos known


# ---------------------------------------------------------------------------- properties

VOCABULARY = [
    "iss", "ISS", "Iss", "nasa", "NASA", "Baïkonur", "baikonur", "BAIKONUR", "Роскосмос", "РОСКОСМОС",
    "роскосмоса", "ёлка", "елка", "deorbit", "deorbiting", "DEORBIT", "de", "orbit", "space", "Space",
    "station", "crew", "Crew1", "11", "s", "x²", "x2", "Straße", "strasse", "café", "cafe\u0301",
    "NAŚA", "1⁄2", "ΟΔΟΣ", "οδος", "İss",
]  # fmt: skip
# Separators replaced before the split (’ “ — …, no-break space) and others that stay inside a
# chunk (‛ U+201B, thin space, bullet, «»), making chunks of several words.
SEPARATORS = [
    " ", " ", " ", "\n", ", ", "-", "’", "'", ". ", " — ", "\u00ad", "_", "\t", "«", "»", "**",
    "“", "” ", " – ", " \u0301", "…", " и ", "½", "\u201b", "\u2009", "•", "\u00a0",
]  # fmt: skip

texts = st.lists(st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(SEPARATORS)), max_size=20).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)
_word = st.builds(
    lambda w, prefix, exact, cut: ("=" if exact else "") + (w[: max(1, len(w) - cut)] + "*" if prefix else w),
    st.sampled_from(VOCABULARY),
    st.booleans(),
    st.booleans(),
    st.integers(0, 4),
)
_phrase = st.lists(
    st.builds(lambda w, prefix: w + ("*" if prefix else ""), st.sampled_from(VOCABULARY), st.booleans()),
    min_size=2,
    max_size=3,
).map(lambda ws: '"' + " ".join(ws) + '"')
_scope = st.sampled_from(["", "", "title:", "text:"])
_atom = st.builds(lambda f, a: f + a, _scope, st.one_of(_word, _phrase))


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a, b: f"({a} AND {b})", children, children),
        st.builds(lambda a, b: f"({a} {b})", children, children),
        st.builds(lambda a, b: f"({a} OR {b})", children, children),
        st.builds(lambda a: f"NOT {a}", children),
        st.builds(lambda a, b, n: f"{a} NEAR/{n} {b}", children, children, st.integers(0, 4)),
        st.builds(lambda f, a: f"{f}({a})", _scope, children),
    )


queries = st.recursive(_atom, _combine, max_leaves=6)


def _valid(query: str) -> bool:
    try:
        parse_query(query)
    except QuerySyntaxError:
        return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(queries, min_size=1, max_size=6), texts, texts)
def test_compiled_matcher_agrees_with_the_reference_evaluator(
    query_list: list[str], title: str, text: str
) -> None:
    valid = [q for q in query_list if _valid(q)]
    assume(valid)
    rules = [{"name": f"r{i}", "query": q} for i, q in enumerate(valid)]
    compiled = compile_rules(rules)
    expected = [r["name"] for r in rules if reference.evaluate(parse_query(r["query"]), title, text)]
    assert compiled.match_names(title, text) == expected
    found = compiled.match(title, text)
    assert [m.rule for m in found] == expected
    # Hits and snippets come from the matcher's own words: the plain evaluator's, exactly.
    plain = reference.Article(title, text)
    for rule, match in zip([r for r in rules if r["name"] in expected], found, strict=True):
        oracle = explain(rule["name"], parse_query(rule["query"]), plain)
        assert (match.hits, match.snippet) == (oracle.hits, oracle.snippet), rule["query"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(queries, min_size=1, max_size=6),
    st.lists(st.tuples(texts, texts), min_size=2, max_size=6),
    st.sampled_from([2, 6, 1000]),
)
def test_one_compiled_matcher_agrees_with_the_reference_article_after_article(
    query_list: list[str], articles: list[tuple[str, str]], limit: int
) -> None:
    # The lexicon carries what it learned (and which chunks are not their own folded word,
    # per key) from article to article, and is replaced when full: none of it may show.
    valid = [q for q in query_list if _valid(q)]
    assume(valid)
    rules = [{"name": f"r{i}", "query": q} for i, q in enumerate(valid)]
    compiled = compile_rules(rules)
    compiled._lexicon.limit = limit
    for title, text in articles:
        expected = [r["name"] for r in rules if reference.evaluate(parse_query(r["query"]), title, text)]
        assert compiled.match_names(title, text) == expected


def test_a_word_in_a_changed_chunk_of_an_earlier_article_does_not_taint_this_one() -> None:
    rules = [{"name": "phrase", "query": '"space station"'}, {"name": "exact", "query": "=NASA"}]
    compiled = compile_rules(rules)
    articles = [
        ("", "“Space station” and “NASA’s” plan"),  # teaches chunks that change: “space, “nasa
        ("", "space station NASA"),  # plain chunks only: looked for in the split bytes
        ("", "space, station nasa"),  # punctuation between words of a phrase is no word
        ("", "“Space”  station —“NASA”"),
        ("", "Space Station“ Nasa"),
    ]
    for title, text in articles:
        expected = [r["name"] for r in rules if reference.evaluate(parse_query(r["query"]), title, text)]
        assert compiled.match_names(title, text) == expected
    assert [compiled.match_names(t, x) for t, x in articles] == [
        ["phrase", "exact"], ["phrase", "exact"], ["phrase"], ["phrase", "exact"], ["phrase"],
    ]  # fmt: skip


unicode_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("aZé\u0301ёЁйЙß²½ﬁ’'ʼ-_\u00ad\u200d \n.,*\"«»—İıΣς℃"),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)


@settings(max_examples=500, deadline=None)
@given(unicode_text)
def test_fast_word_scan_gives_exactly_the_defined_words(text: str) -> None:
    assert [w.decode() for w in ScannedText(text).sequence()] == query_words(text)
    assert [w.decode() for w in ScannedText(text, exact=True).sequence()] == exact_words(text)
    assert {w.decode() for w in ScannedText(text).words()} == set(query_words(text))


def test_matcher_agrees_with_the_reference_on_real_pages(shared_dir: Path) -> None:
    bodies = json.loads(
        (shared_dir / "realworld" / "articles" / "ground-truth.json").read_text(encoding="utf-8")
    )
    rules = load_rules(REPO / "config" / "rules.yaml")
    extra = [
        Rule(name="w", query='"space station" OR Roscosmos* OR =NASA'),
        Rule(name="n", query="(NASA OR ESA) NEAR/10 (launch* OR mission*) NOT title:podcast"),
        Rule(name="c", query="Россия* OR Москв* OR Роскосмос"),
    ]
    compiled = compile_rules([*rules, *extra])
    queries = {r.name: parse_query(r.query) for r in [*rules, *extra]}
    matched = 0
    for entry in list(bodies.values())[:60]:
        text = entry["articleBody"][:20_000]
        title = text.split("\n", 1)[0][:200]
        expected = [name for name, q in queries.items() if reference.evaluate(q, title, text)]
        assert compiled.match_names(title, text) == expected
        matched += len(expected)
    assert matched > 0


@pytest.mark.parametrize("view", ["table view", "no view"])
def test_many_rules_on_one_article_explain_as_the_reference_does(
    shared_dir: Path, view: str, lexicon_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dozens of matched rules on one article: past a few lookups, a word's positions come from
    an index of the field (alerts.rules.fieldview.FieldView); hits and snippets stay the reference's.
    Also where the chunk table's view pass could not be had (its words' first positions then
    come from the field's words)."""
    if view == "no view":
        if lexicon_backend == "pure Python":
            pytest.skip("the pure-Python matcher has no table view")
        monkeypatch.setattr(ScannedArticle, "view", lambda self, f: None)
    bodies = json.loads(
        (shared_dir / "realworld" / "articles" / "ground-truth.json").read_text(encoding="utf-8")
    )
    checked = 0
    for entry in list(bodies.values())[:12]:
        text = entry["articleBody"][:20_000]
        title = text.split("\n", 1)[0][:200]
        words = [w for w in query_words(text) if len(w) > 3][:400]
        queries = []
        for i in range(0, min(len(words) - 3, 240), 6):
            a, b, c = words[i], words[i + 1], words[i + 3]
            queries += [a, f"{b[:4]}*", f'"{a} {b}"', f"{a} NEAR/3 {c}", f"({a} OR zzqx) AND {c}"]
        rules = [{"name": f"r{i}", "query": q} for i, q in enumerate(queries)]
        compiled = compile_rules(rules)
        plain = reference.Article(title, text)
        found = compiled.match(title, text)
        assert len(found) > 20
        for match in found:
            oracle = explain(match.rule, parse_query(queries[int(match.rule[1:])]), plain)
            assert (match.hits, match.snippet) == (oracle.hits, oracle.snippet), match.rule
            checked += 1
    assert checked > 500


# ---------------------------------------------------------------------------- newswatch match


def newswatch(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


ARTICLES = [
    {"id": 1, "title": "Roscosmos’s chief on the ISS", "text": "NASA will deorbit the ISS."},
    {"id": "b", "title": "Missile test", "text": "Mission control"},
    {"id": 3, "text": "Запуск экипажа «Союз МС-27» на МКС."},
]


def _lines(items: list[dict]) -> str:
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)


def test_match_command_prints_one_line_per_article_in_order(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - name: roscosmos\n    query: 'Roscosmos OR Роскосмос'\n"
        "  - name: deorbit\n    query: 'deorbit* AND (ISS OR =МКС)'\n"
        "  - name: launch\n    query: 'запуск* AND =МКС'\n",
        encoding="utf-8",
    )
    articles = tmp_path / "in.jsonl"
    articles.write_text(_lines(ARTICLES) + "\n", encoding="utf-8")
    result = newswatch("match", "--rules", str(rules), "--articles", str(articles))
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == [1, "b", 3]
    assert [o["rules"] for o in out] == [["roscosmos", "deorbit"], [], ["launch"]]
    assert out[0]["hits"] == {
        "roscosmos": {"title": ["Roscosmos"]},
        "deorbit": {"title": ["ISS"], "text": ["deorbit", "ISS"]},
    }
    assert out[2]["hits"]["launch"] == {"text": ["Запуск", "МКС"]}


def test_match_command_reads_stdin_and_defaults_to_the_config_rules() -> None:
    result = newswatch("--config", str(REPO / "config"), "match", "--snippets", stdin=_lines(ARTICLES[:1]))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["rules"] == ["roscosmos", "iss-deorbit"]
    assert out["snippets"]["iss-deorbit"] == "NASA will **deorbit** the **ISS**."


def test_match_command_gives_the_same_lines_without_the_c_chunk_table(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - {name: deorbit, query: 'deorbit* AND (ISS OR \"International Space Station\")'}\n"
        "  - {name: phrase, query: '\"space station\" NOT title:weather'}\n"
        "  - {name: near, query: 'Roscosmos NEAR/3 \"crew capsule\"'}\n"
        "  - {name: exact, query: '=NASA \"Baïkonur launch\"'}\n",
        encoding="utf-8",
    )
    lines = [
        {"id": 1, "title": "ISS", "text": "NASA plans the deorbit of the “International Space Station”."},
        {"id": 2, "title": "weather", "text": "space — station"},
        {"id": 3, "title": "", "text": "РОСКОСМОС said Roscosmos’s new crew capsule is ready"},
        {"id": 4, "title": "", "text": "nasa and NASA at the BAIKONUR launch pad"},
    ]
    articles = tmp_path / "articles.jsonl"
    articles.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    outputs = []
    for pure in ("0", "1"):
        env = {**os.environ, "NEWSWATCH_PURE_PYTHON": pure}
        command = [
            sys.executable,
            "-m",
            "newswatch",
            "match",
            "--rules",
            str(rules),
            "--articles",
            str(articles),
        ]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=True)
        outputs.append([json.loads(line)["rules"] for line in done.stdout.splitlines()])
    assert outputs[0] == outputs[1] == [["deorbit", "phrase"], [], ["near"], ["exact"]]


def test_match_command_names_the_malformed_rule_and_column(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: good\n    query: ISS\n  - name: bad\n    query: '(ISS OR NASA'\n")
    result = newswatch("match", "--rules", str(rules), stdin=_lines(ARTICLES))
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert "'bad'" in line and "column 13" in line and "expected ')'" in line
    assert "Traceback" not in result.stderr


def test_match_command_names_the_malformed_input_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: good\n    query: ISS\n")
    result = newswatch("match", "--rules", str(rules), stdin=_lines(ARTICLES[:1]) + '{"id": 2, "title": \n')
    assert result.returncode == 2
    assert json.loads(result.stdout)["rules"] == ["good"]
    [line] = result.stderr.strip().splitlines()
    assert "stdin line 2: not valid JSON" in line
    result = newswatch("match", "--rules", str(rules), stdin='{"id": 1, "text": 5}\n')
    assert result.returncode == 2 and "stdin line 1: 'text' must be a string" in result.stderr


def test_match_command_in_processes_writes_what_one_process_writes_in_input_order(tmp_path: Path) -> None:
    """A file is matched by one process per core (`--jobs`): the same lines, in input order, and a
    bad line still stops there with the lines before it answered."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - {name: deorbit, query: 'deorbit* AND (ISS OR \"space station\")'}\n"
        "  - {name: agency, query: 'NASA OR Roscosmos'}\n",
        encoding="utf-8",
    )
    words = ["NASA", "Roscosmos", "deorbit", "deorbiting", "ISS", "space station", "weather"]
    lines = [
        {"id": n, "title": words[n % 7], "text": f"{words[(n * 3) % 7]} and {words[(n * 5) % 7]} {n}"}
        for n in range(300)  # ten chunks: they come back from the workers out of order
    ]
    articles = tmp_path / "articles.jsonl"
    articles.write_text(_lines(lines), encoding="utf-8")
    one = newswatch("match", "--snippets", "--rules", str(rules), "--articles", str(articles), "--jobs", "1")
    three = newswatch(
        "match", "--snippets", "--rules", str(rules), "--articles", str(articles), "--jobs", "3"
    )
    assert one.returncode == three.returncode == 0, three.stderr
    assert three.stdout == one.stdout
    assert [json.loads(line)["id"] for line in three.stdout.splitlines()] == list(range(300))
    assert sum(bool(json.loads(line)["rules"]) for line in one.stdout.splitlines()) > 100

    articles.write_text(_lines(lines[:70]) + "{not json\n" + _lines(lines[70:]), encoding="utf-8")
    broken = newswatch("match", "--rules", str(rules), "--articles", str(articles), "--jobs", "2")
    assert broken.returncode == 2
    assert [json.loads(line)["id"] for line in broken.stdout.splitlines()] == list(range(70))
    assert f"{articles} line 71: not valid JSON" in broken.stderr and "Traceback" not in broken.stderr


def test_rules_kept_for_good_are_left_out_of_collections_and_the_young_collected_less_often() -> None:
    import gc

    from newswatch.core.bulk import YOUNG_THRESHOLD, keep_for_good

    saved = gc.get_threshold()
    try:
        for before, after in (((700, 10, 10), (YOUNG_THRESHOLD, 10, 10)), ((50_000, 5, 5), (50_000, 5, 5)),
                              ((0, 10, 10), (0, 10, 10))):  # fmt: skip
            gc.set_threshold(*before)
            rules = compile_rules([{"name": "r", "query": "deorbit*"}])
            keep_for_good()
            assert gc.get_threshold() == after
            assert gc.is_tracked(rules._rules) and all(o is not rules._rules for o in gc.get_objects())
            gc.unfreeze()
    finally:
        gc.set_threshold(*saved)


def test_what_a_paused_collector_saw_built_counts_as_old_and_frozen_objects_stay_frozen() -> None:
    """newswatch.core.bulk.collector_paused: the collector runs again after the block, without
    walking what the block built as young objects; objects frozen before stay frozen."""
    import gc

    from newswatch.core.bulk import PROMOTE_AFTER, collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        built = [[index] for index in range(PROMOTE_AFTER + 1000)]
    assert gc.isenabled()
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(built) in oldest and all(id(item) in oldest for item in built[::1000])
    with collector_paused():  # a small block (an article's matches): left as it was
        small = [[index] for index in range(100)]
    assert id(small) not in {id(o) for o in gc.get_objects(generation=2)}
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            [[index] for index in range(PROMOTE_AFTER + 10)]
        assert gc.get_freeze_count() == frozen and gc.isenabled()  # no unfreeze behind the caller's back
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(
    ("query", "text"),
    [("iss AND =iss", "ISS iss"), ("=iss AND iss", "ISS iss iss"), ("iss* AND =iss", "ISSUE ISS iss"),
     ('=ISS AND "iss crew"', "the iss crew and ISS")],
)  # fmt: skip
def test_an_exact_word_later_than_the_folded_form_is_listed_once_as_first_written(
    query: str, text: str
) -> None:
    """Each distinct folded form once, as first written: an exact word's own first occurrence
    can come after the same form as another atom of the rule first met it."""
    found = compile_rules([{"name": "r", "query": query}]).match("", text)
    oracle = explain("r", parse_query(query), reference.Article("", text))
    assert [(m.hits, m.snippet) for m in found] == [(oracle.hits, oracle.snippet)]
