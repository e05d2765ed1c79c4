"""Stories (crawler/stories.py and the store): exact and near duplicates join one story;
different articles on the same topic do not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from crawl_support import article, source, stored, write_config
from fixture_site import NewsSite, syndicated_copy

from crawler import stories
from newswatch.demo.site import bundled_articles

pytestmark = pytest.mark.timeout(240)

BUNDLED = {a.slug: a for a in bundled_articles()}
WIRE_LEAD = (
    "WASHINGTON (Wire) — The U.S. and Russian space agencies said on Monday they would keep "
    "exchanging seats on their crew vehicles for two more years."
)


def test_exact_duplicate_text_hashes_alike_whatever_the_punctuation_and_case() -> None:
    text = BUNDLED["deorbit-vehicle-review"].text
    shouted = text.upper().replace(",", " ,").replace(".", " . ")
    assert stories.content_hash(text) == stories.content_hash(shouted)
    assert stories.content_hash(text) != stories.content_hash(text + " One more sentence.")


def test_rewritten_lead_is_a_near_duplicate() -> None:
    original = BUNDLED["crew-seat-swap-extended"]
    copy = syndicated_copy(original, "wire-copy", WIRE_LEAD)
    assert (
        stories.hamming(stories.simhash(original.text), stories.simhash(copy.text)) <= stories.CANDIDATE_BITS
    )
    assert stories.is_near_duplicate(original.text, copy.text)


def test_articles_on_the_same_topic_are_not_near_duplicates() -> None:
    # Both are about the Soyuz crew flights, in different words.
    a, b = BUNDLED["soyuz-crew-launch"].text, BUNDLED["crew-seat-swap-extended"].text
    assert not stories.is_near_duplicate(a, b)
    for x in BUNDLED.values():
        for y in BUNDLED.values():
            if x.slug < y.slug:
                assert not stories.is_near_duplicate(x.text, y.text), (x.slug, y.slug)


def test_short_texts_are_never_deduplicated() -> None:
    assert not stories.is_dedupable("Read more on our website.")
    assert stories.simhash("Read more on our website.") is None


def test_simhash_keeps_its_definition_so_stored_hashes_stay_comparable() -> None:
    # Articles stored before an upgrade are compared with new ones: the value must not change.
    # Definition: bit k is set when more than half of the shingles' 64-bit BLAKE2b hashes have it.
    for item in BUNDLED.values():
        hashes = [stories._hash64(s) for s in stories.shingles(stories.fingerprint_words(item.text))]
        expected = sum(1 << k for k in range(64) if 2 * sum(h >> k & 1 for h in hashes) > len(hashes))
        assert stories.simhash(item.text) == expected, item.slug
        tokens = stories.fingerprint_words(item.text)
        assert stories.words_hash(tokens) == stories.content_hash(item.text)


def test_simhash_index_finds_the_nearest_recent_articles_first() -> None:
    index = stories.SimhashIndex()
    base = 0b1011 << 40
    day = [datetime(2026, 11, d, tzinfo=UTC) for d in range(1, 7)]
    index.add_many(
        [
            (1, stories.to_signed(base ^ 0b111), 10, day[0]),  # 3 bits away
            (2, stories.to_signed(~base & (2**64 - 1)), 20, day[1]),  # 64 bits away
            (3, stories.to_signed(base ^ 0b1), 30, day[2]),  # 1 bit away
            (4, None, 40, day[3]),  # no SimHash (a short text): never a candidate
            (5, stories.to_signed(base ^ ((1 << 15) - 1)), 50, day[4]),  # 15 bits: beyond the default 14
            (6, stories.to_signed(base ^ 0b1000), 60, day[5]),  # 1 bit away, newer than 3
        ]
    )
    assert len(index) == 5 and index.last_article_id == 6
    assert [c.article_id for c in index.candidates(stories.to_signed(base))] == [3, 6, 1]
    assert [c.article_id for c in index.candidates(base, limit=2)] == [3, 6]
    assert [c.story_id for c in index.candidates(base, max_bits=15)] == [30, 60, 10, 50]
    index.forget_fetched_before(day[3])  # the articles fetched before the window are gone
    assert [c.article_id for c in index.candidates(base, max_bits=64)] == [6, 5]


def test_signed_storage_round_trips() -> None:
    for value in (0, 1, 2**63 - 1, 2**63, 2**64 - 1):
        signed = stories.to_signed(value)
        assert -(2**63) <= signed < 2**63
        assert stories.to_unsigned(signed) == value


def test_near_duplicate_joins_story(tmp_path, crawls, sessions) -> None:
    original = BUNDLED["crew-seat-swap-extended"]
    other = BUNDLED["solar-maximum-aurora"]
    copy = syndicated_copy(original, "seat-swap-wire", WIRE_LEAD)
    with NewsSite([original, other]) as desk, NewsSite([copy], name="Wire Service") as wire:
        config = write_config(
            tmp_path / "config",
            [source("desk", "feed", f"{desk.url}/feed.xml"), source("wire", "feed", f"{wire.url}/feed.xml")],
        )
        run = crawls(config)
        assert run.poll("desk").new == 2
        summary = run.poll("wire")
    assert (summary.new, summary.duplicates) == (0, 1), "the copy joins a known story"
    with sessions() as session:
        rows = {a.canonical_url.rsplit("/", 1)[-1]: a for a in stored(session)}
    assert len(rows) == 3, "the copy is stored (another outlet), in the same story"
    assert rows["seat-swap-wire.html"].story_id == rows["crew-seat-swap-extended.html"].story_id
    assert rows["solar-maximum-aurora.html"].story_id != rows["crew-seat-swap-extended.html"].story_id
    assert rows["seat-swap-wire.html"].simhash is not None


def test_exact_copy_on_another_site_joins_the_story(tmp_path, crawls, sessions) -> None:
    original = BUNDLED["deorbit-vehicle-review"]
    with NewsSite([original]) as desk, NewsSite([original], name="Mirror") as mirror:
        config = write_config(
            tmp_path / "config",
            [
                source("desk", "feed", f"{desk.url}/feed.xml"),
                source("mirror", "feed", f"{mirror.url}/feed.xml"),
            ],
        )
        run = crawls(config)
        run.poll("desk")
        summary = run.poll("mirror")
    assert summary.duplicates == 1
    with sessions() as session:
        rows = stored(session)
    assert len(rows) == 2 and rows[0].content_hash == rows[1].content_hash
    assert rows[0].story_id == rows[1].story_id


def test_same_text_at_a_second_url_of_one_source_is_one_article(tmp_path, site, crawls, sessions) -> None:
    original = site.articles[0]
    duplicate = article("reposted", paragraphs=original.paragraphs, title=original.title)
    run = crawls(write_config(tmp_path / "config", [source("desk", "feed", f"{site.url}/feed.xml")]))
    run.poll("desk")
    site.publish(duplicate)
    summary = run.poll("desk")
    assert (summary.new, summary.duplicates) == (0, 1)
    with sessions() as session:
        assert len(stored(session)) == 15
