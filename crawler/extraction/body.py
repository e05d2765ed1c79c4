"""The article's body text: trafilatura on a pre-cleaned tree, then checks against what the page
says about itself.

Method (each step is generic, none knows a site; figures in bench/bench_extract.py):
0. Delete what trafilatura would delete first anyway (scripts, styles, media, forms' controls,
   navigation, footers, asides): every later step then sees a fraction of the page.
1. Read before anything else changes the tree: the texts of links to other pages (for step 4), the
   lead as shown (crawler.extraction.structured), the visible text (to check JSON-LD against),
   and whether the page is a live blog (crawler.extraction.liveblog).
2. Pre-clean the tree (crawler.extraction.cleaning): link lists, read-also boxes and consent
   walls out, article bodies split into chunks joined.
3. trafilatura in its fast mode, without comments. The fallback comparison with readability and
   jusText (trafilatura's default) and favor_precision / favor_recall were measured: worse on the
   tuning pages, and the fallback doubles the time.
4. Filter the lines (crawler.extraction.lines): the headline repeated at the top, boilerplate
   lines in many languages, lines that are the whole text of a link to another page.
5. A live blog gets every update (crawler.extraction.liveblog). Any other page is checked
   against its JSON-LD articleBody, which replaces a fragment or trims what lies around the
   article (crawler.extraction.structured).
6. The lead goes first when the extraction left it out.

Measured and left out: dropping repeated paragraphs (lower recall: real articles repeat lines
that the reference text keeps), dropping figure captions and hidden elements (no change:
trafilatura already leaves them out), a looser link-list test (no change), removing a
standfirst shown under the headline (the older benchmark's reference texts leave it out, the
newer one's keep it; for matching it is article text).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from datetime import date, datetime

import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.settings import Extractor

from crawler.extraction.cleaning import preclean
from crawler.extraction.lines import filter_lines, is_headline, link_texts
from crawler.extraction.liveblog import json_ld_live_blog, live_body, markup_live_blog
from crawler.extraction.metadata import PageMetadata
from crawler.extraction.structured import reconcile_with_article_body, shown_lead, visible_text, with_lead

# The steps in use; a tuning session can switch one off to measure what it is worth.
STEPS = frozenset(
    {
        "linklists",
        "linkcards",
        "boxes",
        "chunks",
        "headline",
        "boilerplate",
        "linklines",
        "articlebody",
        "trim",
        "live",
        "lead",
    }
)

_DELETED_ANYWAY = (
    "head", "script", "style", "noscript", "template", "svg", "iframe", "object", "embed",
    "video", "audio", "canvas", "nav", "footer", "aside",
    "link", "source", "use", "picture", "input", "select", "option", "optgroup", "textarea", "label",
    "map", "area", "param", "track", "noindex", "menu", "fencedframe", "applet", "datalist",
)  # fmt: skip

# What trafilatura also deletes, or unwraps, in its own cleaning: gone before it runs (after our
# passes: consent walls are told by their buttons, live blogs by their <time>s), its copies of
# the tree and its pattern searches over every element then cost less (same text on all 217
# shared pages; plain <span>s can match none of its patterns, it unwraps them later).
_DELETED_BY_TRAFILATURA = ("button", "time", "dialog", "fieldset", "legend", "output", "progress")
_UNWRAPPED_BY_TRAFILATURA = (
    "img", "meta", "wbr", "font", "abbr", "acronym", "nobr", "bdi", "bdo", "big", "data", "dfn",
    "mark", "ruby", "ins",
)  # fmt: skip
_PLAIN_SPANS = etree.XPath("//span[not(@*)]")

# trafilatura warns about every page it finds nothing in ("discarding data"): not actionable here
logging.getLogger("trafilatura").setLevel(logging.ERROR)


@dataclass
class Body:
    """The body text, and whether the page is a live blog that is still being updated."""

    text: str
    live: bool = False


_OPTIONS: tuple[date, Extractor] | None = None


def trafilatura_options(url: str | None) -> Extractor:
    """Return the options of `trafilatura.extract(tree, url=url, include_comments=False,
    fast=True, with_metadata=False)`, built from a template made once a day: building them
    reads trafilatura's configuration each time, a tenth of its own running time on a page."""
    global _OPTIONS
    today = date.today()  # the template's date parameters name today as the latest date
    if _OPTIONS is None or _OPTIONS[0] != today:
        _OPTIONS = (today, Extractor(output_format="txt", fast=True, comments=False, with_metadata=False))
    options = copy.copy(_OPTIONS[1])
    options.url = url
    options.source = url and url.encode("utf-8", "replace").decode("utf-8")
    return options


def extract_body(tree: HtmlElement, url: str | None, meta: PageMetadata, now: datetime | None = None) -> Body:
    """Return the article's body from a parsed page (the tree is modified)."""
    steps = STEPS
    # What trafilatura deletes first anyway goes first, at C speed (the metadata has been read):
    # every pass below, and trafilatura's copies and pattern searches, then see ~40% of the
    # page's elements. Links in navigation and footers no longer count for the line filter: a
    # line that repeats one comes from the body (same text on 215 of the 217 shared pages).
    etree.strip_elements(tree, *_DELETED_ANYWAY, with_tail=False)
    page_urls = (url, meta.canonical_url)
    links = link_texts(tree, page_urls) if "linklines" in steps else None
    lead = shown_lead(tree, meta.description) if "lead" in steps else None
    if lead and is_headline(lead, meta.title_candidates):  # a description that only repeats it
        lead = None
    needs_visible = (meta.article_body and "articlebody" in steps) or (meta.live_postings and "live" in steps)
    visible = visible_text(tree) if needs_visible else ""
    blog = None
    if "live" in steps:
        urls = [u for u in page_urls if u]
        blog = json_ld_live_blog(meta.live_postings, meta.title_candidates, urls, now, meta.json_ld_roots)
        blog = (
            blog.as_shown(visible)
            if blog is not None
            else markup_live_blog(tree, urls, meta.title_candidates)
        )
    preclean(tree, steps)
    etree.strip_elements(tree, *_DELETED_BY_TRAFILATURA, with_tail=False)
    for span in _PLAIN_SPANS(tree):
        span.tag = "img"  # unwrapped with the images
    etree.strip_tags(tree, *_UNWRAPPED_BY_TRAFILATURA)
    text = trafilatura.extract(tree, options=trafilatura_options(url)) or ""
    text = filter_lines(text, meta.title_candidates, links, steps)
    if blog is not None:
        text = live_body(text, blog)
    elif visible and meta.article_body:
        text = reconcile_with_article_body(text, meta.article_body, visible, trim="trim" in steps)
    return Body(with_lead(text, lead), live=blog is not None and not blog.ended)
