"""Tree-level cleaning before trafilatura runs: what only the page's structure shows.

- Lists whose every item is a link ("more stories", "most read", tag clouds) go, and so do
  cards of links inside a sentence (a name's hover card with its latest headlines: three links
  or more making up an inline element of a paragraph that has text of its own).
- Boxes that announce themselves ("Mehr zum Thema", "Lire aussi", "Читайте также": a short
  block that starts with a read-also phrase and is mostly links or teasers, with the list of
  linked items such a heading introduces) and consent walls
  (a short block of cookie / consent wording with buttons) go (crawler.extraction.boilerplate),
  and so do captions and credits of pictures (a block whose class or itemprop names a caption,
  credit, "Bildunterschrift", "légende"…).
- Article bodies that a page splits into chunks of one layout around ads are joined into the
  first chunk (trafilatura keeps only the first matching container). Chunks are joined only
  when they are copies of one layout under a near common ancestor and together hold most of
  the page's paragraph text.
"""

from __future__ import annotations

import re
from collections import defaultdict

from lxml import etree
from lxml.html import HtmlElement

from crawler.extraction.boilerplate import (
    is_consent_text,
    may_start_read_also,
    mentions_consent,
    starts_read_also,
)
from crawler.extraction.text import norm

# Class and name patterns are lower case and matched against lower-cased values: an expression
# with re.I cannot skip ahead to its possible first letters and runs ~6x slower.
_BODYISH_CLASS = re.compile(r"body|content|text|article|story|entry|post|chunk|paragraph|prose")
_NOT_BODY_CLASS = re.compile(r"comment|related|sidebar|teaser|promo|card")
_PARAGRAPH_TEXT = etree.XPath(".//p//text()", smart_strings=False)
_ALL_TEXT = etree.XPath(".//text()", smart_strings=False)
_LINK_TEXT = etree.XPath(".//a//text()", smart_strings=False)
_BOX_TAGS = ("div", "aside", "section", "p", "ul", "figure", "details")
_MAX_BOX_CHARS = 600
_MAX_CONSENT_CHARS = 2500
_CAPTION = re.compile(
    r"caption|credit|bildunterschrift|bildtext|legende|infotext|image-?text|media-?info|photo-?info"
)
_CAPTION_TAGS = frozenset(("div", "p", "span", "figcaption", "small"))
_DIALOG_NAME = re.compile(r"consent|cookie|cmp|gdpr|privacy|banner|modal|dialog|overlay|popup|notice")


def drop(element: HtmlElement) -> None:
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


def _text_length(element: HtmlElement) -> int:
    """Return the number of characters in the element's paragraphs."""
    return sum(map(len, _PARAGRAPH_TEXT(element)))


def link_share(element: HtmlElement) -> float:
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
            and all(link_share(li) >= 0.9 for li in items)
        ):
            doomed.append(element)
    for element in doomed:
        if element.getparent() is not None:
            drop(element)


# inline elements inside a paragraph that hold three links or more (few paragraphs have any)
_LINKY_INLINE = etree.XPath("//p//span[count(.//a[@href]) >= 3]")


def drop_link_cards(tree: HtmlElement) -> None:
    """Remove cards of links inside a sentence: an inline element of a paragraph made only of
    links (three or more) while the paragraph has text of its own around it — the hover card
    of a person's name with their latest headlines, say. Readers do not see it in the
    sentence; as text it splices headlines into the article's lines."""
    cards = [span for span in _LINKY_INLINE(tree) if link_share(span) >= 0.9]
    for span in cards:
        if any(other in cards for other in span.iterdescendants("span")):
            continue  # the innermost: a name linked before the card stays in the sentence
        paragraph = next(span.iterancestors("p"))
        outside = len(" ".join(paragraph.text_content().split())) - len(" ".join(span.text_content().split()))
        if outside >= 20:
            drop(span)


def drop_announced_boxes(tree: HtmlElement) -> None:
    """Remove read-also boxes, consent walls and captions (see the module docstring).

    Found from their wording, one text node at a time (cheap), then widened to the block that
    holds them: for a read-also phrase, the largest block of at most 600 characters that opens
    with it and holds a link; for consent wording, the nearest block with controls that reads
    as a consent wall, and the wrappers around it that add little text."""
    doomed: list[HtmlElement] = []
    body = next(tree.iter("body"), tree)
    for element in body.iter(etree.Element):
        tag = element.tag
        if tag in _CAPTION_TAGS:
            cls, prop = element.get("class"), element.get("itemprop")
            if (cls or prop) and _CAPTION.search(f"{cls or ''} {prop or ''}".lower()):
                doomed.append(element)  # a picture's caption or credit: not the article's text
                continue
        text = element.text
        if text is None or len(text) < 4 or tag in ("script", "style"):
            continue
        box = None
        head = text.lstrip() if text[0].isspace() else text
        if may_start_read_also(head) and starts_read_also(head[:200]):
            box = _read_also_box(element, " ".join(text.split()))
        elif len(text) >= 30 and mentions_consent(text):
            box = _consent_box(element)
        if box is not None and not any(box is d or d in box.iterancestors() for d in doomed):
            doomed.append(box)
            introduced = _introduced_teaser_list(box)
            if introduced is not None:
                doomed.append(introduced)
    for element in doomed:
        if element.getparent() is not None:
            drop(element)


def _read_also_box(element: HtmlElement, phrase: str) -> HtmlElement | None:
    start = norm(phrase)[:30]
    found = None
    for candidate in (element, *element.iterancestors()):
        if candidate.tag == "body":
            break
        text = candidate.text_content()
        if len(text) > _MAX_BOX_CHARS * 2 or len(" ".join(text.split())) > _MAX_BOX_CHARS:
            break
        if not norm(text).startswith(start):
            break
        if candidate.tag in _BOX_TAGS or candidate.tag.startswith("h"):
            found = candidate
    if found is None:
        return None
    text = " ".join(found.text_content().split())
    return found if _is_teaser_box(found, text) else None


def _introduced_teaser_list(box: HtmlElement) -> HtmlElement | None:
    """Return the list a read-also heading introduces ("More Great Stories", then a list of
    other articles), or None: the heading's next sibling, a list of at least two items that
    each hold a link, short as teaser lists are. (A heading holding links is a box already.)"""
    following = box.getnext()
    if following is None or following.tag not in ("ul", "ol") or box.find(".//a[@href]") is not None:
        return None
    items = [child for child in following if child.tag == "li"]
    if len(items) < 2 or any(item.find(".//a[@href]") is None for item in items):
        return None
    return following if len(" ".join(following.text_content().split())) <= 2 * _MAX_BOX_CHARS else None


def _consent_box(element: HtmlElement) -> HtmlElement | None:
    found = None
    for candidate in (element, *element.iterancestors()):
        if candidate.tag == "body":
            break
        text = " ".join(candidate.text_content().split())
        if len(text) > _MAX_CONSENT_CHARS:
            break
        if found is None:
            if _has_controls(candidate) and _looks_like_a_dialog(candidate) and is_consent_text(text):
                found, length = candidate, len(text)
        elif len(text) <= 1.3 * length:
            found = candidate
        else:
            break
    return found


def _looks_like_a_dialog(element: HtmlElement) -> bool:
    """A consent wall has buttons, or sits in a block named as a banner or dialog."""
    if element.find(".//button") is not None:
        return True
    for node in (element, *element.iterancestors()):
        if node.get("role") in ("dialog", "alertdialog") or _DIALOG_NAME.search(
            f"{node.get('id') or ''} {node.get('class') or ''}".lower()
        ):
            return True
    return False


def _is_teaser_box(element: HtmlElement, text: str) -> bool:
    """A box that points elsewhere: it holds a link, or it is a single line ("Mehr zum Thema")."""
    return element.find(".//a") is not None or len(text) < 60


def _has_controls(element: HtmlElement) -> bool:
    return element.find(".//button") is not None or element.find(".//a") is not None


def merge_body_chunks(tree: HtmlElement) -> None:
    """Join article bodies split into chunks of one layout into the first chunk.

    Pages that interleave ads or teasers between parts of the article repeat the body container
    (`div.body__container`, `div.article-body`…); trafilatura takes the first one only.
    """
    page_text = None
    groups: dict[tuple[str, frozenset], list[HtmlElement]] = defaultdict(list)
    for element in tree.iter("div", "section"):
        cls = element.get("class")
        lower = cls.lower() if cls else ""
        if lower and _BODYISH_CLASS.search(lower) and not _NOT_BODY_CLASS.search(lower):
            tokens = frozenset(t for t in cls.split() if _BODYISH_CLASS.search(t.lower()))
            groups[(element.tag, tokens)].append(element)
    for members in groups.values():
        if len(members) < 2:
            continue
        # keep outermost members only; each must carry real paragraphs
        member_set = set(members)
        outer = [m for m in members if member_set.isdisjoint(m.iterancestors())]
        substantial = [m for m in outer if _text_length(m) >= 80]
        if len(substantial) < 2:
            continue
        # together the chunks must hold most of the page's paragraph text: that is the article
        page_text = _text_length(tree) if page_text is None else page_text
        if sum(map(_text_length, substantial)) < 0.5 * page_text:
            continue
        if not _one_layout(substantial):
            continue
        first = substantial[0]
        for other in substantial[1:]:
            for child in list(other):
                first.append(child)
            drop(other)


def _one_layout(members: list[HtmlElement], levels: int = 6) -> bool:
    """Return whether the elements are copies of one layout under a common ancestor at most
    `levels` up: the same tags lead from each to that ancestor.

    Chunks of one article are siblings or cousins in repeated wrappers (a row, a column, the
    body); same-class blocks far apart (a teaser in the header, a card in the footer) are not
    parts of the article.
    """
    chains = [list(m.iterancestors())[:levels] for m in members]
    for depth, ancestor in enumerate(chains[0]):
        if all(len(chain) > depth and chain[depth] is ancestor for chain in chains[1:]):
            paths = {tuple(a.tag for a in chain[:depth]) for chain in chains}
            return len(paths) == 1
    return False


def preclean(tree: HtmlElement, steps: frozenset[str]) -> None:
    """Apply the tree-level steps named in `steps`, in place."""
    if "linklists" in steps:
        drop_link_lists(tree)
    if "linkcards" in steps:
        drop_link_cards(tree)
    if "boxes" in steps:
        drop_announced_boxes(tree)
    if "chunks" in steps:
        merge_body_chunks(tree)
