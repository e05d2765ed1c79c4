"""The line filter: what trafilatura's text still holds that is not the article.

Applied to the extracted text, one line (paragraph, heading, list item) at a time:
- the headline repeated at the top (also with the site name or a kicker around it), and the
  short lines above it (a kicker, a section name, a date);
- boilerplate lines (crawler.extraction.boilerplate: credits, bylines, date stamps, read-also
  pointers, prompts — in many languages);
- lines that are exactly the text of a link to another page (menu items, tags, teasers of
  other articles). A link to this page itself (a teaser of the article in a "top stories"
  box) or to a place on it (a table of contents) does not count, nor does a text the page also
  shows as a paragraph of its own: an article whose paragraphs are also used as teasers keeps
  them.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from crawler.extraction.boilerplate import is_boilerplate_line
from crawler.extraction.text import norm, norm_all

_IDS = etree.XPath("//@id", smart_strings=False)


def page_key(url: str | None) -> str | None:
    """Return scheme-less host and path of a URL: what tells one page from another."""
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.netloc:
        return None
    return f"{parts.netloc.lower().removeprefix('www.')}{parts.path.rstrip('/')}"


class LinkTexts:
    """The normalised texts of the page's links, each with where it points; asked line by line.

    A line of extracted text that is exactly the text of a link to another page is navigation
    (a menu item, a tag, a category) or a teaser of another article, whatever its length: the
    article's own sentences are not links in their entirety. (Links of one or two words were
    once kept out; including them removed whole menus on one page and cost no recall.)
    Resolving where a link points costs more than collecting the texts, so it is done only for
    the links whose text a line repeats."""

    def __init__(self, tree: HtmlElement, page_urls: tuple[str | None, ...] = ()) -> None:
        self.tree = tree
        self.base = next((u for u in page_urls if u), "") or ""
        self.own = {key for key in map(page_key, page_urls) if key}
        self.hrefs: dict[str, list[str]] = {}
        self._ids: set[str] | None = None
        self._paragraphs: set[str] | None = None
        texts, hrefs = [], []
        for anchor in tree.iter("a"):
            text = anchor.text_content().strip()
            if text.startswith(("http:", "https:", "www.")):
                continue  # a printed address is content ("the list is at https://…")
            texts.append(text)
            hrefs.append(anchor.get("href"))
        for key, href in zip(norm_all(texts), hrefs, strict=True):
            if key:
                self.hrefs.setdefault(key, []).append((href or "").strip())

    def __contains__(self, line_key: object) -> bool:
        hrefs = self.hrefs.get(line_key)  # type: ignore[call-overload]
        if not hrefs or not any(self._elsewhere(href) for href in hrefs):
            return False
        if self._paragraphs is None:
            self._paragraphs = _paragraph_texts(self.tree)
        return line_key not in self._paragraphs

    def __bool__(self) -> bool:
        return bool(self.hrefs)

    def _elsewhere(self, href: str) -> bool:
        """Return whether a link leads to another page: not to a place on this page (a table
        of contents: its entries are the article's own subheadings), not to this page itself
        (a teaser of this very article)."""
        if href.startswith("#") and len(href) > 1:
            if self._ids is None:
                self._ids = set(_IDS(self.tree))
            return href[1:] not in self._ids
        if self.own and href and not href.startswith(("#", "javascript:")):
            return page_key(urljoin(self.base, href)) not in self.own
        return True


def link_texts(tree: HtmlElement, page_urls: tuple[str | None, ...] = ()) -> LinkTexts:
    """Return the page's link texts (see LinkTexts), to test lines against with `in`."""
    return LinkTexts(tree, page_urls)


def _paragraph_texts(tree: HtmlElement) -> set[str]:
    """Return the normalised texts of paragraphs that are not (inside) links."""
    shown = set()
    for paragraph in tree.iter("p"):
        if paragraph.find(".//a") is not None or any(a.tag == "a" for a in paragraph.iterancestors()):
            continue
        key = norm(paragraph.text_content())
        if key:
            shown.add(key)
    return shown


def is_headline(line: str, titles: list[str]) -> bool:
    """Return whether `line` repeats the page's headline (also when <title> adds the site name
    or the page prints a kicker before it: "Eskalation in Nahost: <headline>")."""
    key = norm(line)
    if not key:
        return False
    for title in titles:
        wanted = norm(title)
        if not wanted:
            continue
        if key == wanted or (len(key) >= 20 and wanted.startswith(key + " ")):
            return True
        if len(wanted) >= 20 and key.endswith(" " + wanted) and len(key) - len(wanted) <= 60:
            return True
    return False


def _without_headline(lines: list[str], titles: list[str]) -> list[str]:
    """Return the lines without the headline at the top, and without the short lines above it
    (a kicker such as "MENINGSMÅLING:", a section name, a date)."""
    for position, line in enumerate(lines[:8]):
        if is_headline(line, titles):
            if all(len(above.split()) <= 6 for above in lines[:position]):
                lines = lines[position + 1 :]
                return _without_headline(lines, titles)
            break
    return lines


def filter_lines(
    text: str,
    titles: list[str] | None = None,
    links: LinkTexts | set[str] | None = None,
    steps: frozenset[str] = frozenset({"headline", "boilerplate", "linklines"}),
) -> str:
    """Drop headline repeats, boilerplate lines and link teasers from extracted text."""
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    if "boilerplate" in steps:
        lines = [line for line in lines if not is_boilerplate_line(line)]
    if "linklines" in steps and links:
        lines = [line for line in lines if norm(line.lstrip("-• ")) not in links]
    if "headline" in steps and titles:  # last: menus and widget links above it are gone by now
        lines = _without_headline(lines, titles)
    return "\n".join(lines)
