"""Article extraction: the article's own text and metadata, legacy encodings, feed fallback,
robustness, process-pool use, the `newswatch extract` command, and quality on real pages."""

from __future__ import annotations

import gzip
import json
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import lxml.html
import pytest

from crawler.extract import ExtractedArticle, extract_article
from crawler.extraction.charset import decode_html
from crawler.extraction.dates import parse_date
from crawler.extraction.lines import filter_lines, link_texts
from crawler.extraction.page import parse_page
from crawler.extraction.structured import reconcile_with_article_body
from crawler.items import FeedEntry

DATA = Path(__file__).parent / "data" / "extract"
NEWSWATCH = [sys.executable, "-m", "newswatch"]


def page(name: str) -> bytes:
    return (DATA / name).read_bytes()


# --- encodings ---------------------------------------------------------------------------


def test_windows_1251_page_decodes_by_http_equiv() -> None:
    article = extract_article(page("windows-1251-meta-http-equiv.html"))
    assert article.title == "Запуск спутника перенесён"
    assert "метеорологического спутника перенесён на две недели" in article.text
    assert article.language == "ru"


def test_iso_8859_1_page_decodes_accents_and_windows_1252_quotes() -> None:
    article = extract_article(page("iso-8859-1-meta-charset.html"))
    assert "Après dix-huit mois d'arrêt" in article.text
    assert "“jeudi soir”" in article.text  # 0x93/0x94 are curly quotes, as browsers show them
    assert "«Nous avons retrouvé notre accès autonome à l'espace»" in article.text


def test_undeclared_utf8_with_bom_decodes() -> None:
    assert decode_html(page("utf-8-bom-undeclared.html")).startswith("<html>")
    article = extract_article(page("utf-8-bom-undeclared.html"))
    assert article.title == "Station crew returns"
    assert "steppe of Kazakhstan" in article.text


def test_undeclared_windows_1251_bytes_are_guessed() -> None:
    html = (
        "<html><body><p>Роскосмос сообщил о переносе запуска грузового корабля к станции.</p></body></html>"
    )
    assert "Роскосмос сообщил" in decode_html(html.encode("cp1251"))


def test_str_input_is_used_as_is() -> None:
    text = page("windows-1251-meta-http-equiv.html").decode("cp1251")
    article = extract_article(text)
    assert "метеорологического спутника" in article.text


# --- body text is the article only -------------------------------------------------------


def test_sidebar_keyword_does_not_reach_the_text() -> None:
    article = extract_article(page("sidebar-names-keyword.html"), url="https://orbital.example/news/lander")
    assert "selected five companies" in article.text
    assert "present their first reviews in the spring" in article.text
    # "also read" box, "Read more:" link, newsletter box, most-read sidebar, comments
    assert "Roscosmos" not in article.text
    assert "Russian space agency" not in article.text
    assert "newsletter" not in article.text
    assert "All rights reserved" not in article.text


def test_headline_is_not_repeated_in_the_text() -> None:
    article = extract_article(page("sidebar-names-keyword.html"))
    assert article.title == "NASA awards lunar lander study contracts"
    assert not article.text.startswith("NASA awards lunar lander")


def test_lines_that_are_a_short_link_text_are_dropped_whatever_their_length() -> None:
    # Where the extractor falls back to a page's whole text (a news text that is not in <p>
    # elements), menu items, categories and tags come out one per line; as links they go.
    tree = lxml.html.fromstring(
        '<html><body><ul><li><a href="#">PREFEITURA <b></b></a><ul><li><a href="/d">Diário Oficial</a></li>'
        '</ul></li></ul><a class="label" href="/tag/deorbit">deorbit</a> '
        '<a href="/tag/iss">ISS</a><div>The deorbit vehicle arrives in 2029.</div></body></html>'
    )
    extracted = "MENU\nPREFEITURA\nDiário Oficial\ndeorbit\nISS\nThe deorbit vehicle arrives in 2029."
    assert filter_lines(extracted, links=link_texts(tree)) == "MENU\nThe deorbit vehicle arrives in 2029."


@pytest.mark.parametrize(
    "line",
    [
        "(Reporting by Greg Roumeliotis; Editing by Lisa Shumaker)",
        "Additional reporting by Joseph Hudak",
        "Fox News’ Jessica Napoli contributed to this report.",
        "Updated at 1:23 p.m.",
        "- Published 18 November 2019",
        "Email Tariq Malik at tmalik@space.com or follow him @tariqjmalik.",
        "Filed under: Space | Policy",
        "5 min read",
        "Tempo de leitura: 1 minuto",
        "DON'T MISS",
        "Popular on IndieWire",
    ],
)
def test_credit_date_and_promo_lines_are_dropped(line: str) -> None:
    body = "Roscosmos confirmed the deorbit plan on Tuesday."
    assert filter_lines(f"{body}\n{line}") == body


@pytest.mark.parametrize(
    "line",
    [
        "Updated Police Identify Man, Woman Found Dead in Plano Apartment",
        "Posted on social media by the performance analysts, the clip drew wide attention.",
        "The report was published on Monday after 14 months of review, officials said.",
        "Editors at the agency said the 2029 date still stands.",
    ],
)
def test_sentences_that_start_like_credit_lines_stay(line: str) -> None:
    text = f"Roscosmos confirmed the deorbit plan on Tuesday.\n{line}"
    assert filter_lines(text) == text


def test_a_page_of_menus_around_a_bare_text_news_item_keeps_only_the_news(shared_dir: Path) -> None:
    # A real municipal news page (2018): nested drop-down menus, a category picker, a tag cloud,
    # and the news as bare text after two images.
    root = shared_dir / "realworld" / "articles"
    key = "f6ac15a4d9851139"
    (path,) = (root / "html").glob(f"{key}*.html.gz")
    text = extract_article(gzip.decompress(path.read_bytes())).text
    assert "registrou nesta manhã o arrombamento de dois dos cinco automóveis" in text
    for menu_item in ("PREFEITURA", "ESTRUTURA ADMINISTRATIVA", "GEOPORTAL", "reciclagem", "schützenfest"):
        assert menu_item not in text
    assert len(text) < 1200  # the news is ~500 characters; the page's whole text ~3,000


LEAD = "The agency picked a landing site near the lunar south pole for its first crewed landing in decades."
REST = [
    "Engineers spent two years mapping the region, looking for flat ground with long periods of sunlight.",
    "The site also lies close to permanently shadowed craters that may hold water ice for future crews.",
    "Mission planners said a backup site would be named next spring after further study of new images.",
]


def _page_with_summary(summary_element: str) -> str:
    paragraphs = "".join(f"<p>{text}</p>" for text in REST)
    return (
        f'<html><head><meta name="description" content="{LEAD}"><title>Landing site chosen</title></head>'
        f"<body><article><h1>Landing site chosen</h1>{summary_element}{paragraphs}</article></body></html>"
    )


def test_standfirst_under_the_headline_is_the_lead_of_the_text() -> None:
    # A summary printed under the headline is article text (rules must match it); it comes first.
    text = extract_article(_page_with_summary(f'<h2 class="dek">{LEAD}</h2>')).text
    assert text.startswith(LEAD)
    assert REST[0] in text


def test_lead_paragraph_used_as_description_stays_in_the_text() -> None:
    text = extract_article(_page_with_summary(f"<p>{LEAD}</p>")).text
    assert text.startswith(LEAD)


def test_article_split_into_chunks_is_extracted_whole() -> None:
    text = extract_article(page("article-split-into-chunks.html")).text
    assert "never reaches orbital speed" in text
    assert "inflatable heat shield" in text
    assert "first stages started landing on ships and pads" in text
    assert "Advertisement" not in text


def test_structured_article_body_replaces_a_fragment_it_covers() -> None:
    paragraphs = [
        f"Paragraph {n} of the launch story has enough words to count as real text here." for n in range(12)
    ]
    structured = "\n".join(paragraphs)
    visible = " ".join(paragraphs) + " navigation footer"
    assert reconcile_with_article_body(paragraphs[0], structured, visible) == structured
    # a good extraction is kept; a structured body the page does not show is ignored
    extracted = "\n".join(paragraphs[:10])
    assert reconcile_with_article_body(extracted, structured, visible) == extracted
    assert reconcile_with_article_body(paragraphs[0], structured, "something else") == paragraphs[0]


# --- metadata ---------------------------------------------------------------------------


def test_json_ld_and_opengraph_metadata() -> None:
    article = extract_article(
        page("json-ld-and-opengraph.html"), url="https://orbital.example/news/x?utm_source=feed"
    )
    assert article.title == "Station deorbit vehicle contract signed"
    assert article.authors == ["Jane Doe", "John Roe"]
    assert article.published == datetime(2024, 6, 27, 0, 0, tzinfo=UTC)  # 03:00+03:00
    assert article.published.utcoffset() == timedelta(0)
    assert article.updated == datetime(2024, 6, 27, 10, 30, tzinfo=UTC)
    assert article.language == "en-gb"
    assert article.canonical_url == "https://orbital.example/news/2024/deorbit-vehicle-contract"
    assert article.url == "https://orbital.example/news/x?utm_source=feed"
    assert (
        article.description
        == "The agency signed a contract for a vehicle to guide the station into the ocean."
    )
    assert article.site_name == "Orbital Daily"
    assert "843 million dollars" in article.text


def test_naive_page_date_is_taken_as_utc() -> None:
    article = extract_article(page("naive-published-time.html"))
    assert article.published == datetime(2024, 3, 5, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2019-11-19T08:57:40+01:00", datetime(2019, 11, 19, 7, 57, 40, tzinfo=UTC)),
        ("Tue, 19 Nov 2019 07:57:40 GMT", datetime(2019, 11, 19, 7, 57, 40, tzinfo=UTC)),
        ("November 19, 2019 2:57 AM EST", datetime(2019, 11, 19, 7, 57, tzinfo=UTC)),
        ("03.11.2019 08:57", datetime(2019, 11, 3, 8, 57, tzinfo=UTC)),
        ("2019-11-19", datetime(2019, 11, 19, tzinfo=UTC)),
        ("not a date", None),
        ("1700-01-01", None),
    ],
)
def test_dates_parse_to_utc(written: str, expected: datetime | None) -> None:
    assert parse_date(written) == expected


# --- feed fallback and robustness --------------------------------------------------------


def test_script_only_page_falls_back_to_feed_entry() -> None:
    entry = FeedEntry(
        url="https://orbital.example/news/shell",
        title="Cargo ship docks with the station",
        summary="<p>The cargo ship <b>docked</b> on Monday with two tonnes of supplies.</p>",
        published=datetime(2024, 5, 6, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        authors=["Jane Doe"],
        language="en",
    )
    article = extract_article(page("script-only-shell.html"), url=entry.url, feed_entry=entry)
    assert article.title == "Cargo ship docks with the station"
    assert article.text == "The cargo ship docked on Monday with two tonnes of supplies."
    assert article.published == datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
    assert article.authors == ["Jane Doe"]
    assert article.language == "en"


def test_page_text_wins_over_feed_summary() -> None:
    entry = FeedEntry(url="https://orbital.example/x", title="Feed title", summary="Feed teaser only.")
    article = extract_article(page("json-ld-and-opengraph.html"), url=entry.url, feed_entry=entry)
    assert article.title == "Station deorbit vehicle contract signed"
    assert "843 million dollars" in article.text


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x00\xff\xfe\x00garbage\x00",
        "<<<>>>",
        "<html><body></body></html>",
        b"<p>" * 5000,
        "plain words",
    ],
)
def test_garbage_gives_empty_text_without_raising(garbage: bytes | str) -> None:
    article = extract_article(garbage, url="https://orbital.example/g")
    assert isinstance(article, ExtractedArticle)
    assert article.text.strip() in ("", "plain words")


def test_oversized_page_keeps_json_ld_and_article_but_is_cut() -> None:
    article_html = (
        "<article><p>"
        + "The cargo ship docked with the station after a two-day flight. " * 6
        + "</p></article>"
    )
    script = '<script>var state = "' + "x" * 3_000_000 + '";</script>'
    ld = '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Docked"}</script>'
    article = extract_article(f"<html><head>{ld}{script}</head><body>{article_html}</body></html>")
    assert article.title == "Docked"
    assert "two-day flight" in article.text
    dump = "<html><body>" + "".join(f"<p>Line {n} of an endless dump of words.</p>" for n in range(60_000))
    text = extract_article(dump).text
    assert text.startswith("Line 0 ") and "Line 59999 " not in text


def test_oversized_page_loses_closed_scripts_styles_and_svg_and_keeps_the_rest(monkeypatch) -> None:
    from crawler.extraction import page as page_module

    ld = '<script type="application/ld+json">{"headline": "Docked"}</script>'
    html = (
        f"<html><head><SCRIPT src=a.js>{'var a = 1;' * 30}</SCRIPT >{ld}<style>p {{}}</style></head>"
        f"<body><svg><path d='M0'/></svg><p>The ship docked.</p>"
        f"<script>{'x' * 300}</script><p>Unclosed next.</p><style>{'y' * 100}<script>var z;"
    )
    shrunk = (
        f"<html><head>{ld}</head><body><p>The ship docked.</p><p>Unclosed next.</p>"
        f"<style>{'y' * 100}<script>var z;"
    )
    monkeypatch.setattr(page_module, "MAX_PAGE_CHARS", len(shrunk))
    assert page_module._bounded(html) == shrunk
    # still too long: the JSON-LD goes first, then the rest cut to the limit
    monkeypatch.setattr(page_module, "MAX_PAGE_CHARS", 40)
    assert page_module._bounded(html) == ld + shrunk.replace(ld, "")[:40]
    # thousands of unclosed tags: each kind is searched for to the end once, not once per tag
    hostile = "<p>Text</p>" + "<script>" * 5000 + "z" * 300
    assert page_module._bounded(hostile) == hostile[:40]


def test_function_and_result_work_in_a_process_pool() -> None:
    pages = [page("json-ld-and-opengraph.html"), page("windows-1251-meta-http-equiv.html")]
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(extract_article, pages, timeout=120))
    assert results[0].authors == ["Jane Doe", "John Roe"]
    assert "спутника" in results[1].text
    assert pickle.loads(pickle.dumps(results[0])) == results[0]


# --- the command ------------------------------------------------------------------------


def test_extract_command_prints_one_json_line_per_file_in_order(tmp_path: Path) -> None:
    compressed = tmp_path / "meta.html.gz"
    compressed.write_bytes(gzip.compress(page("json-ld-and-opengraph.html")))
    files = [
        str(DATA / "sidebar-names-keyword.html"),
        str(compressed),
        str(DATA / "iso-8859-1-meta-charset.html"),
    ]
    done = subprocess.run(
        [*NEWSWATCH, "extract", *files, "--url", "https://orbital.example/news/x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["file"] for row in rows] == files
    assert list(rows[0]) == [
        "file",
        "url",
        "canonical_url",
        "title",
        "authors",
        "published",
        "updated",
        "language",
        "description",
        "site_name",
        "text",
        "live",
    ]
    assert rows[1]["published"] == "2024-06-27T00:00:00+00:00"
    assert rows[1]["canonical_url"] == "https://orbital.example/news/2024/deorbit-vehicle-contract"
    assert rows[0]["url"] == "https://orbital.example/news/x"
    assert "Roscosmos" not in rows[0]["text"]


def test_extract_command_names_an_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.html"
    done = subprocess.run(
        [*NEWSWATCH, "extract", str(DATA / "sidebar-names-keyword.html"), str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "Traceback" not in done.stderr


# --- quality on real pages ---------------------------------------------------------------


def test_real_pages_meet_the_quality_target(shared_dir: Path, page_scores) -> None:
    root = shared_dir / "realworld" / "articles"
    truth = json.loads((root / "ground-truth.json").read_text())
    scores = []
    for key in sorted(truth):
        html = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        scores.append(page_scores(truth[key]["articleBody"], extract_article(html).text))
    precision = sum(p for p, _ in scores) / len(scores)
    recall = sum(r for _, r in scores) / len(scores)
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.97 and precision >= 0.96, f"F1={f1:.3f} precision={precision:.3f} recall={recall:.3f}"


# --- fast paths select what their definitions select ------------------------------------------

BYLINES = """<html><body>
<div itemprop="author"><span itemprop="name">Ana Lima</span></div>
<span itemprop="name">Not in an author block</span>
<a rel="author" href="/a">Ben Okoro</a><a rel="nofollow author">Not exactly rel=author</a>
<p itemprop="author">Chen Wu</p><section itemprop="author">Not one of the tags</section>
<address class="Article-Author">Dee Park</address><div class="BYLINE x">Eve Moss</div>
<span class="c-author__name">Fay Ng</span><span class="authors">Not a byline class</span>
<div class="comment"><span class="byline">A commenter</span></div>
</body></html>"""


def _parsed(html: str):
    return parse_page(html)


def test_byline_walk_selects_what_the_xpath_definition_selects() -> None:
    from crawler.extraction.metadata import _byline_xpath, byline_authors, byline_elements

    tree = _parsed(BYLINES)
    walked = list(byline_elements(tree))
    assert walked == _byline_xpath()(tree)
    assert [e.text_content() for e in walked] == [
        "Ana Lima",  # the author block (a div with itemprop=author)
        "Ana Lima",  # its itemprop=name
        "Ben Okoro",
        "Chen Wu",
        "Dee Park",
        "Eve Moss",
        "Fay Ng",
        "A commenter",
    ]
    assert byline_authors(tree) == ["Ana Lima"]


def test_byline_walk_matches_the_definition_on_real_pages(shared_dir: Path) -> None:
    from crawler.extraction.metadata import _byline_xpath, byline_elements

    root = shared_dir / "realworld" / "articles"
    for page in sorted((root / "html").glob("*.html.gz")):
        tree = _parsed(decode_html(gzip.decompress(page.read_bytes())))
        assert list(byline_elements(tree)) == _byline_xpath()(tree), page.name


def test_reused_trafilatura_options_extract_what_the_keyword_call_extracts(shared_dir: Path) -> None:
    import copy

    import trafilatura

    from crawler.extraction.body import trafilatura_options

    root = shared_dir / "realworld" / "articles"
    truth = json.loads((root / "ground-truth.json").read_text())
    for key in sorted(truth)[:25]:
        url = truth[key].get("url")
        tree = _parsed(decode_html(gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())))
        by_keywords = trafilatura.extract(
            copy.deepcopy(tree), url=url, include_comments=False, fast=True, with_metadata=False
        )
        assert trafilatura.extract(tree, options=trafilatura_options(url)) == by_keywords, key


TRICKY_PAGES = [
    "<!DOCTYPE html>\n<html><body><p>Plain page.</p></body></html>",
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/TR/xhtml1/DTD/x.dtd"/>\n'
    "<html><body><p>Doctype closed like XML.</p></body></html>",
    '<html lang="en"/>\n<head><title>T</title></head><body><p>Self-closing html tag.</p></body>',
    "<html><body><p>Bell\x07 and form feed\x0c and NUL\x00 inside.</p></body></html>",
    "<html><body><p>Noncharacters \ufffe and \uffff and a curly \u2019 quote.</p></body></html>",
    '<?xml version="1.0" encoding="utf-8"?><html><body><p>XML declaration.</p></body></html>',
    "<p>A fragment without an html tag</p>",
    "just some text, not HTML at all",
    "<html><body><p>Кириллица и \U0001f680.</p></body></html>",
]


@pytest.mark.parametrize("page", TRICKY_PAGES)
def test_page_tree_is_the_one_trafilatura_would_build(page: str) -> None:
    from lxml import etree
    from trafilatura.utils import load_html

    from crawler.extraction.parse import holds_invalid_xml_chars, parse_html

    ours, theirs = parse_html(page), load_html(page)
    assert (ours is None) == (theirs is None)
    if ours is not None:
        assert etree.tostring(ours) == etree.tostring(theirs)
    assert holds_invalid_xml_chars(page) == any(c in page for c in "\x00\x07\x0c\ufffe\uffff")


def test_page_trees_of_real_pages_are_the_ones_trafilatura_would_build(shared_dir: Path) -> None:
    from lxml import etree
    from trafilatura.utils import load_html

    from crawler.extraction.parse import parse_html

    for page in sorted((shared_dir / "realworld").glob("*/html/*.html.gz")):
        text = decode_html(gzip.decompress(page.read_bytes()))
        assert etree.tostring(parse_html(text)) == etree.tostring(load_html(text)), page.name


@pytest.mark.parametrize(
    "data",
    [
        b"<html><body><p>Plain ASCII.</p></body></html>",
        '<html><head><meta charset="utf-8"></head><body><p>Zürich, Kraków, Москва</p></body></html>'.encode(),
        '<html><head><meta charset="iso-8859-1"></head><body><p>Zürich</p></body></html>'.encode(),
        '<html><head><meta charset="iso-8859-1"></head><body><p>Zürich</p></body></html>'.encode("latin-1"),
        b"\xef\xbb\xbf<html><body><p>BOM</p></body></html>",
        '<html><head><meta charset="utf-8"></head><body><p>bad \xff byte</p></body></html>'.encode("latin-1"),
        "<html><body><p>A real \ufffd in the page</p></body></html>".encode(),
    ],
)
def test_page_bytes_are_handed_on_only_when_they_are_the_texts_utf8(data: bytes) -> None:
    from crawler.extraction.charset import decode_page

    text, encoded = decode_page(data)
    assert text == decode_html(data)
    if encoded is not None:
        assert encoded == text.encode("utf-8")


def test_page_bytes_of_real_pages_are_their_texts_utf8(shared_dir: Path) -> None:
    from crawler.extraction.charset import decode_page

    for page in sorted((shared_dir / "realworld").glob("*/html/*.html.gz")):
        text, encoded = decode_page(gzip.decompress(page.read_bytes()))
        assert encoded is None or encoded == text.encode("utf-8"), page.name


_PARAGRAPH = "The crew of the station prepared the capsule for its return to Earth on Friday morning. "


def test_scripts_are_skipped_before_parsing_but_never_take_the_text_around_them() -> None:
    """Scripts, styles and SVG are removed before the page is parsed (JSON-LD kept); a `<script`
    that is no tag — in an attribute's value, a comment, a script's own string — must not make
    the removal reach over the article's text to the next `</script>`."""
    article = (
        '<p data-embed="<script src=x>">' + _PARAGRAPH * 3 + "</p>"
        "<!-- <script> --><p>" + _PARAGRAPH * 2 + "Roscosmos confirmed the date.</p>"
        '<script>document.write("<script src=ad.js><\\/script>")</script>'
        "<p>" + _PARAGRAPH * 2 + "NASA will deorbit the station in 2030.</p>"
        "<style>.x{background:url('data:image/svg+xml,<svg></svg>')}</style>"
        "<p>" + _PARAGRAPH + "Meanwhile, the ISS keeps flying.</p>"
    )
    page = (
        "<html><head><title>Return</title>"
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Return", '
        '"datePublished": "2026-11-30T08:00:00Z"}</script></head>'
        f"<body><article><h1>Return</h1>{article}</article><script>var a = 1;</script></body></html>"
    )
    found = extract_article(page.encode(), "https://example.org/news/return")
    for sentence in ("Roscosmos confirmed the date.", "NASA will deorbit the station in 2030.",
                     "Meanwhile, the ISS keeps flying."):  # fmt: skip
        assert sentence in found.text
    assert "document.write" not in found.text and "background" not in found.text
    assert found.published == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
