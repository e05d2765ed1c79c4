"""The optional C chunk table (alerts.rules._scan): its API, its refusals, and agreement with the
plain-Python views of a text (alerts.rules.text) on what it computes for the matcher."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.rules import lexicon
from alerts.rules.compiled import compile_rules
from alerts.rules.keys import KEY_LIST, key_id
from alerts.rules.text import ScannedText, tokenize

_scan = pytest.importorskip(
    "alerts.rules._scan", reason="alerts.rules._scan was not compiled (no C compiler here)"
)
ChunkTable = _scan.ChunkTable
KeySet = _scan.KeySet


@pytest.fixture(autouse=True)
def c_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexicon, "USE_C_SCAN", True)


def test_add_get_and_scan_report_keys_new_and_non_ascii_chunks() -> None:
    values: list[object] = [b"nasa", frozenset({b"iss", b"is*"})]
    table = ChunkTable(values)
    table.add(b"nasa", 0, [0])
    table.add(b"iss", 1, [0])
    table.add(b"the", -1, [0])
    table.add(b"caf\xc3\xa9", -1, [0], b"cafe")
    assert len(table) == 4
    assert (table.get(b"iss"), table.get(b"the"), table.get(b"missing")) == (1, -1, None)
    keys, new, dirty, complete = table.scan(b"the  nasa iss the caf\xc3\xa9 mars z\xc3\xa9ro ")
    assert keys == {b"nasa", b"iss", b"is*"}
    assert new == {b"mars", b"z\xc3\xa9ro"}
    assert dirty == {b"caf\xc3\xa9", b"z\xc3\xa9ro"}
    assert complete is True  # no phrases: nothing to wait for
    assert table.scan(b"") == (set(), set(), set(), True)


def test_a_chunk_added_again_takes_its_new_value() -> None:
    table = ChunkTable([b"a", b"b"])
    table.add(b"word", 0, [0])
    table.add(b"word", 1, [0])
    assert len(table) == 1 and table.get(b"word") == 1


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((b"two words", -1, [0]), ValueError),
        ((b"", -1, [0]), ValueError),
        ((b"x", 5, [0]), ValueError),  # no such value
        ((b"x", -2, [0]), ValueError),
        ((b"x", -1, [-1]), ValueError),  # word ids are >= 0
        ((b"x", -1, 7), TypeError),
        (("text", -1, [0]), TypeError),
    ],
)
def test_add_refuses_what_is_not_a_chunk(args: tuple, error: type[Exception]) -> None:
    table = ChunkTable([b"k"])
    with pytest.raises(error):
        table.add(*args)
    assert len(table) == 0


def test_phrases_are_found_through_the_words_of_each_chunk() -> None:
    values: list[object] = [b"space station", b"new space"]
    table = ChunkTable(values)
    table.add_phrase([1, 2], 0)
    table.add_phrase([3, 1], 1)
    table.add(b"space", -1, [1])
    table.add(b"station", -1, [2])
    table.add(b"new", -1, [3])
    table.add(b"\xe2\x80\xa2", -1, [], b"")  # a bullet: no word, so no gap
    table.add(b"space\xe2\x80\x9bstation", -1, [1, 2], b"space station")
    assert table.scan(b"the space station")[0] == {b"space station"}
    assert table.scan(b"space \xe2\x80\xa2 station")[0] == {b"space station"}
    assert table.scan(b"x space\xe2\x80\x9bstation")[0] == {b"space station"}
    assert table.scan(b"new space station")[0] == {b"space station", b"new space"}
    # A new ASCII chunk is a word of no phrase: the phrase is broken and still looked for.
    keys, new, _, complete = table.scan(b"space big station")
    assert (keys, new, complete) == (set(), {b"big"}, True)
    # A new non-ASCII chunk may be any words: the phrases wait until it is learned.
    keys, new, _, complete = table.scan(b"space station \xc3\xa9")
    assert (keys, new, complete) == (set(), {b"\xc3\xa9"}, False)
    with pytest.raises(ValueError):
        table.add_phrase([], 0)
    with pytest.raises(ValueError):
        table.add_phrase([1, 0], 0)


def test_joined_and_word_ids_need_every_chunk_known() -> None:
    table = ChunkTable([])
    table.add(b"a", -1, [4])
    table.add(b"\xe2\x80\x94", -1, [], b"")  # a dash: no words
    table.add(b"ab\xc2\xbd", -1, [0, 0, 0], b"ab 1 2")
    assert table.joined(b"a \xe2\x80\x94 ab\xc2\xbd  a") == b" a ab 1 2 a "
    assert table.joined(b"") == b"  " == ScannedText("").joined()
    ids = table.scan(b"a \xe2\x80\x94 ab\xc2\xbd  a", False, True)[4]
    assert list(memoryview(ids).cast("i")) == [4, 0, 0, 0, 4]
    assert _scan.places(ids, 4) == [0, 4] and _scan.places(ids, 7) == []
    assert table.joined(b"a b") is None
    # A new ASCII chunk is a word of no phrase; a new non-ASCII one may be several words.
    assert list(memoryview(table.scan(b"a b", False, True)[4]).cast("i")) == [4, 0]
    assert table.scan(b"a b\xc3\xa9", False, True)[4] is None


text_alphabet = st.one_of(
    st.sampled_from("aZé\u0301ёЁйЙß²½ﬁ’‛'ʼ-_\u00ad\u200d \n.,*\"«»—•\u2009İıΣς℃"),
    st.characters(codec="utf-8"),
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=text_alphabet, max_size=60), st.text(alphabet=text_alphabet, max_size=60))
def test_the_table_joins_and_places_words_as_the_text_module_does(first: str, second: str) -> None:
    # Two articles through one lexicon: the second meets chunks learned from the first.
    compiled = compile_rules([{"name": "r", "query": '"a b" OR x NEAR/2 y'}])
    lexicon = compiled._lexicon
    for text in (first, second):
        scan = ScannedText(text)
        lexicon.keys(scan)
        table = lexicon.state.table
        assert table.joined(scan.data) == scan.joined()
        sequence = scan.sequence()
        marked = {word: lexicon.phrase_words[word] for word in (b"x", b"y")}  # the NEAR words
        expected = {index: [i for i, w in enumerate(sequence) if w == word] for word, index in marked.items()}
        ids = table.scan(scan.data, False, True)[4]
        assert {index: _scan.places(ids, index) for index in expected} == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=text_alphabet, max_size=60), st.text(alphabet=text_alphabet, max_size=60))
def test_the_table_gives_each_word_its_offsets_in_the_text(first: str, second: str) -> None:
    compiled = compile_rules([{"name": "r", "query": '"a b" OR x'}])
    lexicon = compiled._lexicon
    for text in (first, second):
        scan = ScannedText(text)
        lexicon.keys(scan)
        found = lexicon.state.table.offsets(scan.data)
        expected = [i for m in tokenize(text) for i in m.span()]
        assert list(memoryview(found).cast("i")) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=text_alphabet, max_size=80), st.text(alphabet=text_alphabet, max_size=80))
def test_the_view_pass_gives_the_joined_words_offsets_and_where_each_key_first_occurs(
    first: str, second: str
) -> None:
    """`view` is `joined`, `offsets` and, by key id, each word key's and phrase key's first
    position and the first position of each distinct word a prefix starts (in text order), in
    one pass."""
    compiled = compile_rules([{"name": "r", "query": '"a b" OR "b a z" OR x OR é* OR z OR ß OR zé OR b*'}])
    lexicon, terms = compiled._lexicon, compiled._terms
    for text in (first, second, first + " " + first, "z a b a z b a z", "bé b’b ba-b"):
        scan = ScannedText(text)
        lexicon.keys(scan)
        table = lexicon.state.table
        joined, offsets, firsts = table.view(scan.data)
        assert joined == scan.joined()
        assert offsets == table.offsets(scan.data)
        # The scan makes the same view in its own pass (every chunk is known by now).
        assert table.scan(scan.data, False, True, True)[5] == (joined, offsets, firsts)
        words = scan.sequence()
        for word in terms.vocabulary:
            expected = words.index(word) if word in words else None
            assert _scan.first_positions(firsts, joined, word) == (
                None if expected is None else (expected, [])
            )
        for prefix in terms.prefixes:
            starts: dict[bytes, int] = {}
            for position, word in enumerate(words):
                if word.startswith(prefix[:-1]):
                    starts.setdefault(word, position)
            expected_words = sorted(((p, w) for w, p in starts.items()))
            found = _scan.first_positions(firsts, joined, prefix)
            assert found == (None if not starts else (-1, expected_words))
        for phrase in terms.phrases:
            parts = phrase.split()
            places = [i for i in range(len(words)) if words[i : i + len(parts)] == parts]
            assert _scan.first_positions(firsts, joined, phrase) == ((places[0], []) if places else None)
    assert table.view(b"never seen chunks") is None
    assert table.scan(b"a never-seen \xe2\x82\xac999qq", False, True, True)[5] is None  # learnt first


def test_the_chunk_hash_is_keyed_per_process() -> None:
    code = "from alerts.rules import _scan; print(_scan.chunk_hash(b'roscosmos'))"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}  # fmt: skip
    assert len(runs) == 2, "two processes hashed a chunk alike: the key is not drawn per process"
    assert _scan.chunk_hash(b"roscosmos") == _scan.chunk_hash(b"roscosmos")


def test_a_lexicon_full_of_chunks_is_replaced_and_still_finds_phrases() -> None:
    compiled = compile_rules([{"name": "p", "query": '"space station"'}])
    compiled._lexicon.limit = 3
    for index in range(20):
        text = f"word{index} “space station” {index}é"
        assert compiled.match_names("", text) == ["p"], text
    assert len(compiled._lexicon.state) <= 3 + 8


snippet_text = st.text(
    alphabet=st.one_of(st.sampled_from("ab Zé*\n\t\u00a0.,«»—’Ёж"), st.characters(codec="utf-8")),
    max_size=300,
)


@settings(max_examples=400, deadline=None)
@given(snippet_text, st.lists(st.tuples(st.integers(0, 80), st.integers(0, 6)), max_size=6))
def test_the_c_snippet_is_the_python_snippet(text: str, picks: list[tuple[int, int]]) -> None:
    """alerts.rules._explain.snippet makes what explanations.make_snippet makes: the window of
    words, marks merged and kept in it, white space made one space, ** made *, the ellipses."""
    from array import array

    from alerts.rules import hits
    from alerts.rules.explanations import make_snippet

    if hits._explain is None:
        pytest.skip("alerts.rules._explain was not compiled (no C compiler): Python makes snippets")
    words = tokenize(text)
    starts, ends = [m.start() for m in words], [m.end() for m in words]
    spans = [(a % len(words), min(len(words) - 1, a % len(words) + b)) for a, b in picks] if words else []
    offsets = array("i", [i for m in words for i in m.span()])
    assert hits._explain.snippet(text, memoryview(offsets), spans) == make_snippet(text, starts, ends, spans)


class _Checks:
    """The article side of a rule program: records which lazy checks were asked."""

    def __init__(self) -> None:
        self.asked: list[tuple] = []

    def near(self, spec: int) -> bool:
        self.asked.append(("near", spec))
        return spec == 1


def _postings(direct: dict[bytes, list[int]], triggers: dict[bytes, list[int]]) -> tuple:
    """The table `decide` reads, by key id: 2 * i for a rule the key decides, 2 * i + 1 for a
    candidate (alerts.rules.postings)."""
    from alerts.rules.postings import Postings

    codes: dict[int, list[int]] = {}
    for key, rules in direct.items():
        codes.setdefault(key_id(key), []).extend(2 * i for i in rules)
    for key, rules in triggers.items():
        codes.setdefault(key_id(key), []).extend(2 * i + 1 for i in rules)
    table = Postings(codes)
    return table.at, table.pool


def _group(*keys: bytes) -> bytes:
    from array import array

    return array("i", map(key_id, keys)).tobytes()


def test_decide_takes_direct_rules_and_candidates_whose_groups_and_programs_hold() -> None:
    rules = ["r0", "r1", "r2", "r3", "r4"]
    postings = _postings({b"nasa": [0], b"iss": [4, 0]}, {b"deorbit": [1, 2, 3]})
    other_groups = [(), (_group(b"iss", b"station"),), (_group(b"moon"),), (), ()]
    deorbit = key_id(b"deorbit")
    programs = [None, None, None, (1, (0, deorbit, 1), (3, (4, "near", (0,)))), None]
    checks = _Checks()
    title, text = KeySet({b"deorbit"}), KeySet({b"iss", b"nasa"})
    assert _scan.decide(title, text, postings, other_groups, programs, checks, rules) == [
        "r0",
        "r1",
        "r3",
        "r4",
    ]
    assert checks.asked == [("near", 0)]  # r3: deorbit in the title, and NOT near(0)
    # Scoped to the text, the key in the title does not count; the lazy check is never asked.
    programs[3] = (1, (0, deorbit, 2), (3, (4, "near", (0,))))
    assert _scan.decide(title, text, postings, other_groups, programs, _Checks(), rules) == ["r0", "r1", "r4"]
    assert _scan.decide(KeySet(), KeySet(), postings, other_groups, programs, checks, rules) == []


def test_a_key_set_reads_as_the_set_of_its_keys_and_grows_past_its_first_bits() -> None:
    keys = KeySet({b"nasa", b"deorbit*"})
    assert keys == {b"nasa", b"deorbit*"} and len(keys) == 2 and b"nasa" in keys
    assert b"roscosmos" not in keys and "nasa" not in keys  # no such key; not bytes
    far = b"key-%d" % len(KEY_LIST)
    while key_id(far) < 5000:  # an id well past the 64 bits a new set starts with
        far = b"key-%d" % len(KEY_LIST)
    keys.add(far)
    assert far in keys and len(keys) == 3 and set(keys) == {b"nasa", b"deorbit*", far}
    with pytest.raises(TypeError):
        keys.add("nasa")


@pytest.mark.parametrize(
    "program",
    [
        (),
        (9, b"x"),
        (0, b"deorbit"),
        (0, b"deorbit", 1),
        (4, "near", [0]),
        (4, 7, (0,)),
        (1, "not a program"),
        (4, "no_such", ()),
    ],
)
def test_decide_refuses_a_malformed_program_with_an_error(program: tuple) -> None:
    postings = _postings({}, {b"deorbit": [0]})
    with pytest.raises((ValueError, TypeError, AttributeError)):
        _scan.decide(KeySet({b"deorbit"}), KeySet(), postings, [()], [program], _Checks(), ["r0"])


@pytest.mark.parametrize("codes", [[1, 3], [-1], [6, 0], [1, -4]])
def test_decide_refuses_postings_outside_its_tables(codes: list[int]) -> None:
    """A rule outside the tables, a negative count, codes past the pool's end, a negative code."""
    from array import array

    at, pool = _postings({}, {})
    at.extend([-1] * (key_id(b"nasa") + 1 - len(at)))
    at[key_id(b"nasa")] = len(pool)
    pool.extend(codes)
    with pytest.raises(IndexError):
        _scan.decide(KeySet({b"nasa"}), KeySet(), (at, pool), [()], [None], _Checks(), ["r0"])
    with pytest.raises(TypeError):
        _scan.decide(KeySet({b"nasa"}), KeySet(), (array("d"), pool), [()], [None], _Checks(), ["r0"])


def test_learn_plain_has_the_scan_enter_new_ascii_words_no_rule_word_or_prefix_can_be() -> None:
    table = ChunkTable([])
    words, prefixes = ChunkTable([]), ChunkTable([])
    words.add(b"nasa", -1, [0])
    prefixes.add(b"deorb", -1, [0])
    prefixes.add(b"iss", -1, [0])
    table.learn_plain(words, prefixes, [3, 5])
    _, new, dirty, _ = table.scan(b"alpha nasa 2031 deorbiting issue is caf\xc3\xa9 alpha")
    assert new == {b"nasa", b"deorbiting", b"issue", b"caf\xc3\xa9"}  # what may have keys, and non-ASCII
    assert dirty == {b"caf\xc3\xa9"}
    assert table.get(b"alpha") == -1 and table.get(b"2031") == -1 and table.get(b"is") == -1
    assert table.get(b"nasa") is None  # left to the caller, which learns its keys
    assert len(table) == 3
    assert table.joined(b"alpha 2031") == b" alpha 2031 "
    with pytest.raises(ValueError):
        table.learn_plain(words, prefixes, [5, 3])
    with pytest.raises(TypeError):
        table.learn_plain(words, [b"deorb"], [5])


def test_a_matcher_whose_scan_enters_plain_words_matches_prefixes_and_words_met_later() -> None:
    compiled = compile_rules([{"name": "r", "query": "deorbit* OR nasa"}, {"name": "s", "query": "alpha"}])
    assert compiled.match_names("", "zulu 2031 yankee") == []
    assert compiled.match_names("", "zulu deorbiting yankee") == ["r"]
    assert compiled.match_names("", "Alpha 2031") == ["s"]
    assert compiled.match_names("", "zulu NASA") == ["r"]


def test_scan_leaves_the_non_ascii_chunks_out_when_not_asked() -> None:
    table = ChunkTable([b"nasa"])
    table.add(b"nasa", 0, [0])
    table.add(b"caf\xc3\xa9", -1, [0], b"cafe")
    assert table.scan(b"nasa caf\xc3\xa9", False) == ({b"nasa"}, set(), None, True)
    assert table.scan(b"nasa caf\xc3\xa9")[2] == {b"caf\xc3\xa9"}


@pytest.mark.parametrize("gap", [" ", "  ", " " * 9])
def test_chunks_of_every_length_are_split_where_the_spaces_are(gap: str) -> None:
    """The chunks are found eight bytes at a time: every length, alignment and end of the data."""
    compiled = compile_rules([{"name": "r", "query": "x"}])
    lexicon = compiled._lexicon
    words = ["a" * n + str(n) for n in range(1, 21)]
    for start in range(9):
        text = " " * start + gap.join(words) + " " * (start % 3)
        scan = ScannedText(text)
        lexicon.keys(scan)
        assert lexicon.state.table.joined(scan.data) == b" " + " ".join(words).encode() + b" "
        joined, _, firsts = lexicon.state.table.view(scan.data)
        assert joined == b" " + " ".join(words).encode() + b" "
        assert _scan.first_positions(firsts, joined, b"x") is None


def test_near_of_two_word_ids_counts_the_words_between_in_either_order() -> None:
    from array import array

    ids = array("i", [0, 5, 0, 0, 7, 0, 5]).tobytes()  # 5 at 1 and 6, 7 at 4
    assert _scan.near(ids, 5, 7, 2) and _scan.near(ids, 7, 5, 2)  # two words between 1 and 4
    assert not _scan.near(ids, 5, 7, 0)
    assert _scan.near(ids, 5, 7, 1)  # one word between 4 and 6
    assert _scan.near(ids, 5, 5, 4) and not _scan.near(ids, 5, 5, 3)  # the same word: two places
    assert not _scan.near(ids, 7, 7, 100) and not _scan.near(ids, 5, 9, 100) and not _scan.near(b"", 5, 7, 1)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["nasa", "nasas", "na", "deorbit", "orbit", "s", "a"]), max_size=40),
    st.sampled_from([b" nasa ", b" na", b" orbit ", b" s ", b" deorb", b" a"]),
)
def test_word_places_in_c_are_the_find_and_count_loop(words: list[str], needle: bytes) -> None:
    """alerts.rules.text.word_places with the C module is the Python loop it replaces: the index
    of every word the needle starts at, overlapping places included."""
    from alerts.rules import text

    joined = b" " + b" ".join(w.encode() for w in words) + b" "
    expected = [i for i, w in enumerate(joined[1:-1].split()) if (b" " + w + b" ").startswith(needle)]
    assert _scan.word_places(joined, needle) == expected
    saved, text._scan = text._scan, None
    try:
        assert text.word_places(joined, needle) == expected
    finally:
        text._scan = saved


def test_word_places_refuses_a_needle_that_does_not_start_a_word() -> None:
    with pytest.raises(ValueError, match="start with a space"):
        _scan.word_places(b" nasa ", b"nasa")
    assert _scan.word_places(b" a a a ", b" a a ") == [0, 1]  # overlapping places all count


def test_firsts_whose_prefix_list_loops_are_refused_not_followed_forever() -> None:
    """The readers of a view's firsts (alerts/rules/_firsts.h) walk a prefix's words by `next`;
    a list that does not go forward is an error, whoever made the bytes."""
    code = """
import struct
from alerts.rules import _explain, _scan
from alerts.rules.keys import key_id
key = key_id(b"deorb*")
capacity = 2
slots = [(0, 0, 0, 0)] * capacity
slots[(key * 2654435761 % 2**32) & (capacity - 1)] = (key + 1, -1, 0, 1)
entries = [(0, 1, 1, 1), (1, 1, 1, 0)]  # the second points back at the first
firsts = struct.pack("=ii", capacity, len(entries)) + b"".join(struct.pack("=iiii", *s) for s in slots + entries)
for read in (lambda: _explain.noted(firsts, key, 2), lambda: _scan.first_positions(firsts, b" a b ", b"deorb*")):
    try:
        read()
    except ValueError:
        print("refused")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["refused", "refused"], done.stderr
