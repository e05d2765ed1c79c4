"""The article's body text: trafilatura on a pre-cleaned tree, then a line-level boilerplate filter.

Method (each step is generic, none knows a site; figures in bench/bench_extract.py):
1. Pre-clean the parsed tree: drop lists whose every item is a link ("more stories", "most
   read"), and join article bodies that a page splits into several same-class chunks around ads
   (trafilatura keeps only the first matching container). Chunks are joined only when they sit
   side by side and together hold most of the page's paragraph text.
2. trafilatura in its fast mode, without comments. The fallback comparison with readability and
   jusText (trafilatura's default) and favor_precision / favor_recall were measured: worse on the
   tuning pages, and the fallback doubles the time.
3. Filter the lines: the headline repeated at the top, a standfirst (the meta description shown
   under the headline, not as the lead paragraph), boilerplate sentences ("Sign up for our
   newsletter", "Read more:", "Most read", copyright, reprint and comment prompts, wire credit lines
   such as "(Reporting by …)", date stamps, reading times), and lines that
   are the whole text of one of the page's links (menu items, tags, teasers of other articles).
4. The page's JSON-LD articleBody replaces the result when the page shows that body and the
   extracted text covers less than half of it (the extractor picked a fragment or a wrong block).

Measured and left out: dropping repeated paragraphs (lower recall: real articles repeat lines
that the reference text keeps), dropping figure captions and hidden elements (no change:
trafilatura already leaves them out), a looser link-list test (no change).
"""

from __future__ import annotations

import copy
import logging
import re
from collections import defaultdict
from datetime import date

from lxml import etree
from lxml.html import HtmlElement

# The steps in use; a tuning session can switch one off to measure what it is worth.
STEPS = frozenset(
    {"linklists", "chunks", "headline", "standfirst", "boilerplate", "linklines", "articlebody"}
)

# trafilatura warns about every page it finds nothing in ("discarding data"): not actionable here
logging.getLogger("trafilatura").setLevel(logging.ERROR)

_BODYISH_CLASS = re.compile(r"body|content|text|article|story|entry|post|chunk|paragraph|prose", re.I)
_NOT_BODY_CLASS = re.compile(r"comment|related|sidebar|teaser|promo|card", re.I)
_WORD = re.compile(r"\w+")


def _drop(element: HtmlElement) -> None:
    """Remove an element but keep its tail text in the document."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail and tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


_PARAGRAPH_TEXT = etree.XPath(".//p//text()", smart_strings=False)
_ALL_TEXT = etree.XPath(".//text()", smart_strings=False)
_LINK_TEXT = etree.XPath(".//a//text()", smart_strings=False)
_IDS = etree.XPath("//@id", smart_strings=False)


def _text_length(element: HtmlElement) -> int:
    """Return the number of characters in the element's paragraphs."""
    return sum(map(len, _PARAGRAPH_TEXT(element)))


def merge_body_chunks(tree: HtmlElement) -> None:
    """Join article bodies split into sibling chunks of one class into the first chunk.

    Pages that interleave ads or teasers between parts of the article repeat the body container
    (`div.body__container`, `div.article-body`…); trafilatura takes the first one only.
    """
    page_text = None
    groups: dict[tuple[str, str], list[HtmlElement]] = defaultdict(list)
    for element in tree.iter("div", "section"):
        cls = element.get("class")
        if cls and _BODYISH_CLASS.search(cls) and not _NOT_BODY_CLASS.search(cls):
            groups[(element.tag, " ".join(cls.split()))].append(element)
    for members in groups.values():
        if len(members) < 2:
            continue
        # keep outermost members only; each must carry real paragraphs
        outer = [m for m in members if not any(a in members for a in m.iterancestors())]
        substantial = [m for m in outer if _text_length(m) >= 80]
        if len(substantial) < 2:
            continue
        # together the chunks must hold most of the page's paragraph text: that is the article
        page_text = _text_length(tree) if page_text is None else page_text
        if sum(map(_text_length, substantial)) < 0.5 * page_text:
            continue
        if not _close_cousins(substantial):
            continue
        first = substantial[0]
        for other in substantial[1:]:
            for child in list(other):
                first.append(child)
            _drop(other)


def _close_cousins(members: list[HtmlElement], levels: int = 3) -> bool:
    """Return whether the elements sit at one depth under a common ancestor at most `levels` up.

    Chunks of one article are siblings or cousins; same-class blocks far apart (a teaser in the
    header, a card in the footer) are not parts of the article.
    """
    chains = [list(m.iterancestors())[:levels] for m in members]
    depths = {sum(1 for _ in m.iterancestors()) for m in members}
    if len(depths) != 1:
        return False
    return any(all(ancestor in chain for chain in chains[1:]) for ancestor in chains[0])


def _link_share(element: HtmlElement) -> float:
    """Return the share of the element's words that are link text (1.0 for an empty element)."""
    words = len(" ".join(_ALL_TEXT(element)).split())
    if not words:
        return 1.0
    return len(" ".join(_LINK_TEXT(element)).split()) / words


def drop_link_lists(tree: HtmlElement) -> None:
    """Remove lists whose every item is a link: "more stories", "related", tag clouds."""
    doomed = []
    for element in tree.iter("ul", "ol"):
        items = [li for li in element if li.tag == "li"]
        if (
            len(items) >= 3
            and items[0].find(".//a") is not None
            and all(_link_share(li) >= 0.9 for li in items)
        ):
            doomed.append(element)
    for element in doomed:
        if element.getparent() is not None:
            _drop(element)


def preclean(tree: HtmlElement) -> None:
    """Apply the tree-level steps in place."""
    if "linklists" in STEPS:
        drop_link_lists(tree)
    if "chunks" in STEPS:
        merge_body_chunks(tree)


_BOILERPLATE_LINE = re.compile(
    r"""^(?:
        (?:sign\ up|subscribe|register)\b.{0,80}\b(?:newsletter|updates|alerts|email)
      | subscribe\ to\ (?:our|the)\b
      | (?:read|see)\ (?:more|also)\b\s*[:»>-]
      | (?:also\ read|related|recommended|more\ from|more\ on\ this)\s*[:»>-]
      | (?:most\ read|most\ popular|trending|related\ (?:stories|articles|coverage)|more\ stories)\b[^.!?]{0,40}$
      | (?:copyright|©)\s*(?:©\s*)?\d{4}
      | .{0,60}\ball\ rights\ reserved\.?$
      | this\ copy\ is\ for\ your\ personal,?\ non-commercial\ use
      | follow\b.{0,80}\b(?:on|at)\b.{0,60}(?:twitter|facebook|instagram|linkedin|youtube|tiktok|https?://)
      | (?:reach|contact|email)\ the\ (?:reporter|author|writer)s?\ (?:on|at|via)\b
      | write\ to\ [^.]{1,60}\ at\ \S+@\S+$
      | email\ [^.@]{1,60}\ at\ \S+@\S+
      | \(?(?:additional\ )?(?:reporting|writing|editing)\ by\b
      | .{0,120}\bcontributed\ (?:reporting\ )?to\ this\ (?:report|story|article)\.?\)?$
      | [-•]?\ ?(?:published|updated|posted|last\ updated)(?:\ on|\ at|:)?\ .{0,30}\d.{0,30}$
      | filed\ under\b
      | (?:don'?t\ miss|popular\ on\ \w+|editors?'?\ picks?)\b[^.!?]{0,40}$
      | (?:\d+\ min(?:ute)?s?\ read|reading\ time|tempo\ de\ leitura|lesezeit|temps\ de\ lecture)\b.{0,20}$
      | if\ you\ (?:enjoyed|liked|value|appreciate)\ (?:this|our)\ (?:article|story|journalism|reporting)
      | share\ (?:this|on)\b.{0,40}$
      | (?:order\ reprints|print\ article|share\ this\ article)$
      | advertisement$
      | an\ error\ has\ occurred
      | this\ article\ has\ been\ sent\ to
      | \d*\ ?comments?$
      | (?:leave\ a\ (?:comment|reply)|tell\ us\ what\ you\ think|join\ the\ (?:conversation|discussion))
    )""",
    re.I | re.X,
)


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def link_texts(tree: HtmlElement) -> set[str]:
    """Return the normalised texts of the page's links.

    A line of extracted text that is exactly a link's text is navigation (a menu item, a tag, a
    category) or a teaser of another article, whatever its length: the article's own sentences
    are not links in their entirety. (Links of one or two words were once kept out of this set;
    including them removed whole menus on one page and cost no recall on the shared pages.)"""
    texts = set()
    targets = None
    for anchor in tree.iter("a"):
        href = anchor.get("href") or ""
        if href.startswith("#") and len(href) > 1:
            # a table of contents: its entries are the article's own subheadings
            targets = targets if targets is not None else set(_IDS(tree))
            if href[1:] in targets:
                continue
        text = anchor.text_content().strip()
        if text.startswith(("http:", "https:", "www.")):
            continue  # a printed address is content ("the list is at https://…")
        key = _norm(text)
        if key:
            texts.add(key)
    return texts


def _is_headline(line: str, titles: list[str]) -> bool:
    """Return whether `line` repeats the page's headline (also when <title> adds the site name)."""
    key = _norm(line)
    if not key:
        return False
    for title in titles:
        wanted = _norm(title)
        if key == wanted or (len(key) >= 20 and wanted.startswith(key + " ")):
            return True
    return False


def filter_lines(
    text: str, titles: list[str] | None = None, links: set[str] | None = None, description: str | None = None
) -> str:
    """Drop headline repeats, boilerplate sentences and link teasers from extracted text."""
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    if "headline" in STEPS and titles:
        while lines and _is_headline(lines[0], titles):
            lines.pop(0)
    if description and lines and _norm(lines[0]) == _norm(description):
        lines.pop(0)
    if "boilerplate" in STEPS:
        lines = [line for line in lines if not _BOILERPLATE_LINE.search(line)]
    if "linklines" in STEPS and links:
        lines = [line for line in lines if _norm(line.lstrip("-• ")) not in links]
    return "\n".join(lines)


def standfirst(tree: HtmlElement, description: str | None) -> str | None:
    """Return the description if the page shows it as a standfirst, not as the lead paragraph.

    Many pages use their first paragraph as meta description, others print a separate summary
    under the headline (an `h2`, a `div.dek`). The first belongs to the article text, the second
    does not. A `<p>` followed by more paragraphs is a lead paragraph.
    """
    if "standfirst" not in STEPS or not description or len(description) < 40:
        return None
    start = description.strip()[:30]
    shown = False
    for element in tree.iter("p", "h2", "h3", "h4", "div", "span"):
        text = (element.text or "").strip()
        if not text or not text.startswith(start):
            continue
        shown = True
        if element.tag == "p":
            following = element.getnext()
            if following is not None and following.tag == "p" and len(following.text_content()) >= 80:
                return None
    return description if shown else None


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(max(0, len(words) - n + 1))}


def _visible_text(tree: HtmlElement) -> str:
    return " ".join(tree.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]"))


def _plain(text: str) -> str:
    """Return structured-data text without markup (some sites put HTML in articleBody)."""
    if "<" in text and ">" in text:
        import lxml.html

        try:
            fragment = lxml.html.fromstring(f"<div>{text}</div>")
            for block in fragment.iter("p", "br", "h2", "h3", "li"):
                block.tail = "\n" + (block.tail or "")
            text = fragment.text_content()
        except Exception:  # noqa: BLE001
            pass
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def reconcile_with_article_body(text: str, article_body: str | None, visible: str) -> str:
    """Return the body text, replaced by the page's JSON-LD articleBody when that is clearly better.

    The structured body wins only when it is consistent with the page (its word sequences are
    visible on the page, so it is not a teaser of another language or version) and the extracted
    text covers less than half of it (the extractor picked a fragment or the wrong block).
    """
    if not article_body or "articlebody" not in STEPS:
        return text
    structured = _plain(article_body)
    wanted = _shingles(structured)
    if len(wanted) < 50:
        return text
    if len(wanted & _shingles(visible)) < 0.8 * len(wanted):
        return text
    if len(wanted & _shingles(text)) >= 0.5 * len(wanted):
        return text
    return structured


_OPTIONS: tuple[date, object] | None = None


def trafilatura_options(url: str | None):
    """Return the options of `trafilatura.extract(tree, url=url, include_comments=False,
    fast=True, with_metadata=False)`, built from a template made once a day: building them
    reads trafilatura's configuration each time, a tenth of its own running time on a page."""
    global _OPTIONS
    from trafilatura.settings import Extractor

    today = date.today()  # the template's date parameters name today as the latest date
    if _OPTIONS is None or _OPTIONS[0] != today:
        _OPTIONS = (today, Extractor(output_format="txt", fast=True, comments=False, with_metadata=False))
    options = copy.copy(_OPTIONS[1])
    options.url = url
    options.source = url and url.encode("utf-8", "replace").decode("utf-8")
    return options


def extract_body(
    tree: HtmlElement,
    url: str | None = None,
    titles: list[str] | None = None,
    article_body: str | None = None,
    description: str | None = None,
) -> str:
    """Return the article's body text from a parsed page (the tree is modified)."""
    import trafilatura

    links = link_texts(tree) if "linklines" in STEPS else None
    description = standfirst(tree, description)
    visible = _visible_text(tree) if article_body else ""
    preclean(tree)
    text = trafilatura.extract(tree, options=trafilatura_options(url)) or ""
    text = filter_lines(text, titles, links, description)
    return reconcile_with_article_body(text, article_body, visible)
