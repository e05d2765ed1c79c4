"""Live blogs as article text: every update with its time, with and without JSON-LD
(crawler/extraction/liveblog.py; fixture pages in tests/data/extract)."""

from __future__ import annotations

import json
from pathlib import Path

from crawler.extract import extract_article
from crawler.extraction.jsonld import parse_json_ld

DATA = Path(__file__).parent / "data" / "extract"


def page(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_live_blog_with_json_ld_updates_keeps_every_update_newest_first() -> None:
    # The markup shows only the newest update (the rest load with scripts); the JSON-LD has all four.
    article = extract_article(
        page("liveblog-json-ld-updates.html"), url="https://orbital.example/live/station-leak"
    )
    text = article.text
    headlines = [
        "Roscosmos confirms the leak is in the Zvezda transfer tunnel",
        "NASA: the crew was never in danger",
        "Crew moves into the Soyuz as a precaution",
        "Alarm wakes the crew",
    ]
    positions = [text.find(h) for h in headlines]
    assert -1 not in positions and positions == sorted(positions), text
    assert "cosmonauts can apply a sealant on Tuesday" in text
    assert "moved into their Soyuz capsule for two hours" in text
    assert "2024-08-05 13:32 UTC" in text and "2024-08-05 05:05 UTC" in text, "each update's time, in UTC"
    assert article.live
    assert text.count("Roscosmos said on its Telegram channel") == 1, (
        "the update the page shows is not doubled"
    )
    assert "Share" not in text and "Copy link" not in text and "cookies" not in text


def test_live_blog_without_json_ld_keeps_every_update_with_its_time() -> None:
    article = extract_article(
        page("liveblog-without-json-ld.html"), url="https://raumfahrt.example/ticker/ariane-6"
    )
    text = article.text
    for time, headline in [
        ("16:45 Uhr", "Neuer Termin frühestens im Juli"),
        ("14:20 Uhr", "ESA-Chef äußert sich zur Verschiebung"),
        ("11:02 Uhr", "Problem mit dem Hilfstriebwerk"),
        ("08:30 Uhr", "Start abgesagt"),
    ]:
        assert f"{time}\n{headline}" in text, text
    assert text.index("Neuer Termin") < text.index("Start abgesagt"), "page order: newest first"
    assert "Die Mitgliedsstaaten sollen am Freitag" in text
    assert text.startswith("Der Erstflug der Ariane 6 wird erneut verschoben"), "the intro comes first"
    assert "Roscosmos plant neues Modul" not in text, "the 'latest news' list with times is not an update"
    assert article.live


def test_list_of_teasers_with_times_is_not_a_live_blog() -> None:
    teasers = "".join(
        f'<div class="teaser"><time datetime="2024-08-05T1{i}:00:00Z">1{i}:00</time>'
        f'<h3><a href="/news/story-{i}">Other story number {i}</a></h3>'
        f"<p>A summary of the other story number {i}, long enough to look like a paragraph of text.</p></div>"
        for i in range(5)
    )
    html = (
        "<html><head><title>Budget approved</title></head><body><article><h1>Budget approved</h1>"
        "<p>The agency's budget for next year was approved by parliament on Tuesday evening after a long debate.</p>"
        "<p>It includes money for the lunar lander and for two new weather satellites launched in 2027.</p>"
        f"</article><section>{teasers}</section></body></html>"
    )
    article = extract_article(html, url="https://orbital.example/news/budget")
    assert not article.live
    assert "Other story number" not in article.text


def test_ended_live_blog_keeps_its_updates_but_is_no_longer_live() -> None:
    html = page("liveblog-json-ld-updates.html").replace(
        b"2124-08-06T06:00:00+01:00", b"2024-08-06T06:00:00+01:00"
    )
    article = extract_article(html, url="https://orbital.example/live/station-leak")
    assert "Alarm wakes the crew" in article.text
    assert not article.live


def test_json_ld_as_publishers_write_it() -> None:
    assert parse_json_ld('{"headline": "It\\\'s live",}') == [{"headline": "It's live"}]
    assert parse_json_ld('<!--{"a": 1}{"b": 2}-->') == [{"a": 1}, {"b": 2}]
    assert parse_json_ld("/*<![CDATA[*/" + json.dumps({"a": [1, 2]}) + "/*]]>*/") == [{"a": [1, 2]}]
    assert parse_json_ld("not json at all") == []


def test_live_blog_json_ld_bigger_than_the_page_limit_keeps_the_body() -> None:
    from crawler.extraction import page as page_module

    updates = [
        {
            "@type": "BlogPosting",
            "headline": f"Update {n}",
            "datePublished": f"2024-08-05T{n % 24:02d}:00:00Z",
            "articleBody": f"Update number {n} of the station leak coverage, with enough words to count. "
            * 3,
        }
        for n in range(400)
    ]
    ld = {"@type": "LiveBlogPosting", "headline": "Station leak live", "liveBlogUpdate": updates}
    body = "<p>The crew is safe and the search for the leak goes on through the night.</p>" * 5
    html = (
        f'<html><head><title>Station leak live</title><script type="application/ld+json">{json.dumps(ld)}</script>'
        f"</head><body><main><h1>Station leak live</h1>{body}</main></body></html>"
    )
    assert len(html) > page_module.MAX_PAGE_CHARS // 10
    original = page_module.MAX_PAGE_CHARS
    try:
        page_module.MAX_PAGE_CHARS = len(html) // 2  # the JSON-LD alone passes the limit
        article = extract_article(html)
    finally:
        page_module.MAX_PAGE_CHARS = original
    assert "the search for the leak goes on" in article.text
    assert "Update number 399 of the station leak coverage" in article.text


def test_updates_whose_json_ld_text_is_html_escaped_read_as_plain_text() -> None:
    # Publishers often write JSON-LD strings HTML-escaped: the update must read as the page
    # shows it, not as `&#x201C;` and `&quot;` (which no rule and no reader matches).
    html = page("liveblog-json-ld-updates.html").replace(
        b"moved into their Soyuz capsule for two hours",
        b"moved into their &#x201C;Soyuz&#x201D; capsule for &quot;two hours&quot; &amp; more",
    )
    text = extract_article(html, url="https://orbital.example/live/station-leak").text
    assert 'moved into their \u201cSoyuz\u201d capsule for "two hours" & more' in text, text
    assert "&#x201C;" not in text and "&quot;" not in text and "&amp;" not in text
