"""Small text measures the extraction steps share: normalised words and word 4-grams.

Comparing texts by their word 4-grams ("shingles") is what tells whether a line of extracted
text is part of another text (structured data, an update, a teaser) whatever the whitespace,
punctuation and case: the same measure the benchmarks score with.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

WORD = re.compile(r"\w+")
_BLOCKS = frozenset(("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt"))
_SKIPPED = frozenset(("script", "style", "noscript", "button", "nav", "aside", "figure", "form", "svg"))
_CHROME_CLASS = re.compile(r"share|social|button|sharing|toolbar", re.I)


def norm(text: str | None) -> str:
    """Return the words of `text`, lower case, separated by single spaces."""
    return " ".join(WORD.findall((text or "").lower()))


_NOT_WORD_OR_NUL = re.compile(r"[^\w\x00]+")


def norm_all(texts: list[str]) -> list[str]:
    """Return norm() of each text, the many short texts of a page (link texts) in one pass."""
    joined = "\x00".join(texts)
    if "\x00" in joined.replace("\x00", "", len(texts) - 1):  # a text holds one: one by one
        return [norm(text) for text in texts]
    spaced = _NOT_WORD_OR_NUL.sub(" ", joined.lower())
    return [words.strip(" ") for words in spaced.split("\x00")] if texts else []


def shingles(text: str | None, n: int = 4) -> set[tuple[str, ...]]:
    """Return the set of word n-grams of `text` (empty for texts shorter than n words)."""
    words = WORD.findall((text or "").lower())
    return set(zip(*(words[i:] for i in range(n)), strict=False))  # the tuples built in C


def share_inside(text: str, wanted: set[tuple[str, ...]]) -> float:
    """Return the share of `text`'s shingles that are in `wanted` (0.0 for a short text)."""
    have = shingles(text)
    return len(have & wanted) / len(have) if have else 0.0


def _skipped(element: HtmlElement, stop: HtmlElement) -> bool:
    for node in (element, *element.iterancestors()):
        if node is stop:
            return False
        if node.tag in _SKIPPED or _CHROME_CLASS.search(node.get("class") or ""):
            return True
    return False


def _inside_block(block: HtmlElement, stop: HtmlElement) -> bool:
    """Return whether a block sits inside another block (whose text holds it already)."""
    for ancestor in block.iterancestors():
        if ancestor is stop:
            return False
        if ancestor.tag in _BLOCKS:
            return True
    return False


def visible_blocks(element: HtmlElement) -> list[str]:
    """Return the texts of the element's paragraphs, headings and list items, in page order
    (buttons, share bars, figures and scripts left out); its whole text if it has none."""
    texts = []
    for block in element.iter(*_BLOCKS):
        if _skipped(block, element) or _inside_block(block, element):
            continue
        text = " ".join(block.text_content().split())
        if text:
            texts.append(text)
    if texts:
        return texts
    text = " ".join(element.text_content().split())
    return [text] if text else []
