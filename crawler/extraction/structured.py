"""What the page says its article is, weighed against what the extraction found.

- JSON-LD `articleBody` is trusted only when it is consistent with the page: most of its word
  4-grams are visible on the page (so it is not a teaser of another language or version), it
  is long enough to judge (50 word 4-grams) and it is not cut short ("…" at the end). Then:
  - it replaces the extracted text when that covers less than half of it (the extractor
    picked a fragment or the wrong block);
  - otherwise it trims the extracted text: lines before the first and after the last line it
    holds go (a kicker, byline or date above the article, teasers below it), unless that would
    remove a third of the text.
- The lead (standfirst) is article text: the element whose text begins like the meta
  description (often cut short there) is put first when the extraction left it out. Pages
  print it under the headline, outside the container the extractor takes.
"""

from __future__ import annotations

import html

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from crawler.extraction.text import norm, share_inside, shingles

_MIN_SHINGLES = 50
_OUTSIDE_ARTICLE = frozenset(("nav", "footer", "aside", "a", "head", "script", "noscript", "button"))
_CUT_SHORT = ("…", "...", "[…]", "(…)")


# lxml.html's parser, with every element a plain HtmlElement chosen in C (see parse.py)
_FRAGMENT_PARSER = lxml.html.HTMLParser()
_FRAGMENT_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement,
        comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity,
    )
)


def plain_text(text: str) -> str:
    """Return structured-data text without markup (some sites put HTML in articleBody) and
    without character references (many escape the JSON strings as HTML: `&#x201C;`, `&quot;`)."""
    if "<" in text and ">" in text:
        try:
            fragment = lxml.html.fromstring(f"<div>{text}</div>", parser=_FRAGMENT_PARSER)
            for block in fragment.iter("p", "br", "h2", "h3", "h4", "li", "div"):
                block.tail = "\n" + (block.tail or "")
            text = fragment.text_content()
        except Exception:  # noqa: BLE001 - lxml raises many kinds on broken markup
            pass
    if "&" in text:  # left by the markup's parse when the publisher escaped twice
        text = html.unescape(text)
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


_VISIBLE_TEXT = etree.XPath(
    "//body//text()[not(ancestor::script) and not(ancestor::style)]", smart_strings=False
)


def visible_text(tree: HtmlElement) -> str:
    """Return the text of the page's body outside scripts and styles."""
    return " ".join(_VISIBLE_TEXT(tree))


def reconcile_with_article_body(text: str, article_body: str | None, visible: str, trim: bool = True) -> str:
    """Return the body text, replaced or trimmed by the page's JSON-LD articleBody when that is
    trustworthy (see the module docstring)."""
    if not article_body:
        return text
    structured = plain_text(article_body)
    wanted = shingles(structured)
    if len(wanted) < _MIN_SHINGLES or structured.rstrip().endswith(_CUT_SHORT):
        return text
    if len(wanted & shingles(visible)) < 0.8 * len(wanted):
        return text
    if len(wanted & shingles(text)) < 0.5 * len(wanted):
        return structured
    return trim_to_structured(text, wanted) if trim else text


def trim_to_structured(text: str, wanted: set[tuple[str, ...]]) -> str:
    """Return the text without the lines before the first and after the last line that the
    structured body holds, unless that would remove a third of it."""
    lines = text.split("\n")
    inside = [share_inside(line, wanted) >= 0.5 for line in lines]
    if not any(inside):
        return text
    first = inside.index(True)
    last = len(inside) - 1 - inside[::-1].index(True)
    kept = "\n".join(lines[first : last + 1])
    return kept if len(kept) >= 0.67 * len(text) else text


def shown_lead(tree: HtmlElement, description: str | None) -> str | None:
    """Return the lead as the page shows it: the element whose text begins like the meta
    description, outside navigation, the page's header and links; None when the page does not
    show it."""
    if not description or len(description) < 40:
        return None
    start = norm(description)[:40]
    first_word = start.split(" ", 1)[0]
    for element in tree.iter("p", "h2", "h3", "div", "span", "strong"):
        head = element.text
        if head is None or first_word not in head.lower():
            continue  # the lead's element opens with its first word (cheap test first)
        text = element.text_content()
        if len(text) < 40 or len(text) > 3 * len(description) + 200:
            continue
        if not norm(text[:200]).startswith(start):
            continue
        if _outside_article(element):
            continue
        return " ".join(text.split())
    return None


def _outside_article(element: HtmlElement) -> bool:
    """Return whether the element sits in navigation, a footer, a link… or in the page's header
    (an article's own `<header>`, inside `<article>` or `<main>`, holds its headline and lead)."""
    in_header = False
    for ancestor in element.iterancestors():
        if ancestor.tag in _OUTSIDE_ARTICLE:
            return True
        if ancestor.tag == "header":
            in_header = True
        elif ancestor.tag in ("article", "main"):
            return False
    return in_header


def with_lead(text: str, lead: str | None) -> str:
    """Return the text with the lead put first, unless the text holds it already."""
    if not lead:
        return text
    wanted = shingles(lead)
    if not wanted or len(wanted & shingles(text)) >= 0.5 * len(wanted):
        return text
    return f"{lead}\n{text}" if text else lead
