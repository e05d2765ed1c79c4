"""Live blogs: one page that keeps growing, one update at a time.

Contract (README, "Live blogs"):
- A page is a live blog when its JSON-LD says so (`LiveBlogPosting` about this page, with
  `liveBlogUpdate` parts) or when its markup shows at least three update blocks: siblings of
  one layout, each with a time (`<time>` or a clock time such as `14:32` / `11.04 Uhr` near
  its start) and text of its own, not mostly links (so a "latest news" list or a comment
  thread is not one).
- Its body is the intro (what the page shows above the updates), then every update: a line
  with its time in UTC when the page gives a full timestamp, the update's headline, its text.
  Updates come newest first when every one has a full timestamp, else in page order (newest
  first on almost every live page). Text the page shows below the updates (older updates the
  structured data leaves out) follows them.
- JSON-LD updates are trusted when the `LiveBlogPosting` is this page's (its address is the
  page's, its headline mostly the page's title, or it is the page's only one). When the page
  shows at least three of them, the ones it shows are kept (a long blog's JSON-LD holds its
  whole history); when it shows fewer, it loads its updates with scripts and all of them
  count (the newest 200). A live blog whose `coverageEndTime` has passed is no longer live.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from lxml import etree
from lxml.html import HtmlElement

from crawler.extraction.dates import parse_date
from crawler.extraction.jsonld import by_id
from crawler.extraction.lines import page_key
from crawler.extraction.structured import plain_text
from crawler.extraction.text import norm, share_inside, shingles, visible_blocks

# A clock time as pages print it: 14:32, 9.05 Uhr, 14h32, 2:15 pm
_CLOCK = re.compile(
    r"(?<![\d.:])(?:[01]?\d|2[0-3])(?::|\.|h)[0-5]\d(?![\d.:]\d)(?:\s*(?:uhr|h|am|pm))?", re.I
)
# lower case, matched against lower-cased values (re.I makes such an alternation ~6x slower)
_NOT_UPDATE_CLASS = re.compile(r"comment|teaser|related|promo|latest|most|nav|menu|sidebar|footer")
_LINK_WORDS = etree.XPath("string(.//a)", smart_strings=False)
_MIN_UPDATES = 3
MAX_UPDATES = 200


@dataclass
class LiveUpdate:
    """One update of a live blog: its time (UTC, None when the page gives no full timestamp)."""

    published: datetime | None
    headline: str
    text: str
    clock: str = ""  # the time as the page shows it, when it gives no full timestamp

    def render(self) -> str:
        lines = []
        if self.published is not None:
            lines.append(f"{self.published:%Y-%m-%d %H:%M} UTC")
        elif self.clock and self.clock not in (self.headline + self.text)[:80]:
            lines.append(self.clock)
        if self.headline and norm(self.headline) not in norm(self.text[: len(self.headline) + 20]):
            lines.append(self.headline)
        lines.append(self.text)
        return "\n".join(line for line in lines if line.strip())


@dataclass
class LiveBlog:
    """A live blog's updates and whether it is still being updated."""

    updates: list[LiveUpdate]
    ended: bool = False

    def as_shown(self, visible: str) -> LiveBlog:
        """Return the blog with the structured updates the page shows, when it shows at least
        three of them: the rest are history the page has paged away (a long live blog's
        JSON-LD can hold hundreds). A page that shows fewer loads its updates with scripts:
        then every update counts, the newest MAX_UPDATES of them."""
        seen = shingles(visible)
        shown = [u for u in self.updates if share_inside(f"{u.headline} {u.text}", seen) >= 0.5]
        updates = shown if len(shown) >= _MIN_UPDATES else self.updates[:MAX_UPDATES]
        return LiveBlog(updates, self.ended)


def _plain(value: Any) -> str:
    return plain_text(value) if isinstance(value, str) else ""


def _is_this_page(posting: dict, postings: list[dict], titles: list[str], urls: list[str]) -> bool:
    """Return whether a LiveBlogPosting is about this page: its address is the page's, its
    headline is (mostly) the page's title, or it is the page's only one."""
    url = posting.get("url") or posting.get("@id") or posting.get("mainEntityOfPage")
    url = url.get("@id") if isinstance(url, dict) else url
    if isinstance(url, str) and page_key(url) and page_key(url) in {page_key(u) for u in urls}:
        return True
    headline = posting.get("headline") or posting.get("name")
    headline = norm(headline) if isinstance(headline, str) else ""
    wanted = shingles(headline)
    for title in titles:
        if headline and headline in norm(title):
            return True
        if wanted and len(wanted & shingles(title)) >= 0.5 * len(wanted):
            return True
    return len(postings) == 1


class _LazyIndex:
    """The page's JSON-LD objects by `@id`, indexed when first asked (walking a long live
    blog's JSON-LD costs milliseconds, and most write their updates in place)."""

    def __init__(self, roots: list[Any]) -> None:
        self.roots = roots
        self.index: dict[str, dict] | None = None

    def get(self, key: str, default: dict | None = None) -> dict | None:
        if self.index is None:
            self.index = by_id(self.roots)
        return self.index.get(key, default)


def _parts(posting: dict, index: _LazyIndex) -> list[dict]:
    """Return the update objects of a LiveBlogPosting: a list, one object, an ItemList, or
    references by @id to objects elsewhere in the page's JSON-LD."""
    value = posting.get("liveBlogUpdate")
    items = value if isinstance(value, list) else [value]
    parts = []
    for item in items:
        if isinstance(item, dict) and "itemListElement" in item:
            parts.extend(_parts({"liveBlogUpdate": item["itemListElement"]}, index))
            continue
        if isinstance(item, dict) and isinstance(item.get("item"), dict):
            item = item["item"]
        if isinstance(item, str):
            item = index.get(item)
        elif isinstance(item, dict) and set(item) <= {"@id", "@type"} and isinstance(item.get("@id"), str):
            item = index.get(item["@id"], item)
        if isinstance(item, dict):
            parts.append(item)
    return parts


def json_ld_live_blog(
    postings: list[dict],
    titles: list[str],
    urls: list[str],
    now: datetime | None = None,
    roots: list[Any] | None = None,
) -> LiveBlog | None:
    """Return the updates of this page's `LiveBlogPosting`, or None when it has none; `roots`
    are all the page's JSON-LD, where updates given by `@id` are looked up."""
    index = _LazyIndex(roots or [])
    for posting in postings:
        if not _is_this_page(posting, postings, titles, urls):
            continue
        updates = []
        for part in _parts(posting, index):
            text = _plain(part.get("articleBody") or part.get("text") or part.get("description"))
            headline = _plain(part.get("headline") or part.get("name"))
            if text or headline:
                published = parse_date(part.get("datePublished") or part.get("dateCreated"))
                updates.append(LiveUpdate(published, headline, text))
        if not updates:
            continue
        end = parse_date(posting.get("coverageEndTime"))
        return LiveBlog(_ordered(updates), ended=bool(end and now and end < now))
    return None


def _ordered(updates: list[LiveUpdate]) -> list[LiveUpdate]:
    """Newest first when every update has a time; the given order otherwise."""
    if all(u.published is not None for u in updates):
        return sorted(updates, key=lambda u: u.published, reverse=True)  # type: ignore[arg-type,return-value]
    return updates


# ---------------------------------------------------------------------------- markup


def _signature(element: HtmlElement) -> tuple[str, str]:
    classes = " ".join(sorted(c for c in (element.get("class") or "").split() if not c[-1:].isdigit()))
    return (element.tag, classes)


def _entry_time(entry: HtmlElement) -> tuple[str, datetime | None]:
    """Return the entry's time as shown ("" when it shows none) and as a full timestamp."""
    for time_element in entry.iter("time"):
        shown = " ".join(time_element.text_content().split()) or time_element.get("datetime", "")
        return shown or "time", parse_date(time_element.get("datetime"))
    found = _CLOCK.search(" ".join(entry.text_content().split())[:60])
    return (found.group(0) if found else ""), None


def _link_share(entry: HtmlElement, text: str) -> float:
    links = sum(len(a.text_content()) for a in entry.iter("a"))
    return links / max(1, len(text))


def _points_elsewhere(entry: HtmlElement, heading: HtmlElement | None, own: set[str], base: str) -> bool:
    """Return whether the entry is a teaser: its headline (or its opening words) is a link to
    another page. An update's headline links, if at all, to a place on this page."""
    anchor = heading.find(".//a") if heading is not None else None
    if anchor is None and heading is None:
        text = " ".join(entry.text_content().split())
        anchor = next(
            (a for a in entry.iter("a") if text.find(" ".join(a.text_content().split())[:40]) < 40), None
        )
    if anchor is None:
        return False
    href = (anchor.get("href") or "").strip()
    if not href or "#" in href:
        return False  # a permalink of the update: a place on a page
    return page_key(urljoin(base, href)) not in own


def _entry(entry: HtmlElement, own: set[str], base: str) -> LiveUpdate | None:
    clock, published = _entry_time(entry)
    if not clock:
        return None
    heading = next(entry.iter("h2", "h3", "h4", "h5", "h6"), None)
    if _points_elsewhere(entry, heading, own, base):
        return None
    headline = " ".join(heading.text_content().split()) if heading is not None else ""
    blocks = [b for b in visible_blocks(entry) if norm(b) != norm(headline)]
    text = "\n".join(blocks)
    if len(text) < 60:
        return None
    return LiveUpdate(published, headline, text, clock)


def _head_text(element: HtmlElement, limit: int = 60) -> str:
    """Return the first `limit` characters of the element's text, reading no further."""
    parts, length = [], 0
    for piece in element.itertext():
        parts.append(piece)
        length += len(piece)
        if length >= 2 * limit:
            break
    return " ".join("".join(parts).split())[:limit]


_MARKED_UPDATES = etree.XPath("//*[@itemprop='liveBlogUpdate']")
_TIME_ELEMENTS = etree.XPath("//body//time")
# short text nodes that may be a clock time ("14:32", "9.05 Uhr"): filtered in C, then checked
_SHORT_TIMES = etree.XPath(
    "//body//text()[string-length(normalize-space(.)) <= 14][contains(., ':') or contains(., '.') or contains(., 'h')]"
)
_CLOCK_ALONE = re.compile(rf"^\W{{0,3}}{_CLOCK.pattern}\W{{0,3}}$", re.I)
_HEADINGS = frozenset(("h2", "h3", "h4", "h5", "h6"))
# how titles and addresses announce a live page, in the languages of the boilerplate patterns
_LIVE_WORDS = re.compile(
    r"live|ticker|direct|directo|vivo|diretta|minute|relacja|přímý|canlı|онлайн|трансляц|в режиме"
)  # lower case, as _NOT_UPDATE_CLASS


def _time_markers(tree: HtmlElement, announced: bool) -> list[HtmlElement]:
    """Return the elements that show a time: `<time>` elements, and, on a page whose title or
    address announces a live page, elements whose whole text is a clock time (finding those
    costs a scan of every text on the page: a millisecond, not spent on every article)."""
    markers = list(_TIME_ELEMENTS(tree))
    if not announced:
        return markers
    for text in _SHORT_TIMES(tree):
        if _CLOCK_ALONE.match(text.strip()):
            parent = text.getparent()
            if parent is not None:
                markers.append(parent)
    return markers


def _candidate_groups(tree: HtmlElement, announced: bool) -> list[list[HtmlElement]]:
    """Return runs of at least three sibling blocks of one layout around the page's times."""
    marked = _MARKED_UPDATES(tree)
    if len(marked) >= _MIN_UPDATES:
        return [marked]
    markers = _time_markers(tree, announced)
    if len(markers) < _MIN_UPDATES:
        return []
    seen: set[tuple[HtmlElement, tuple[str, str]]] = set()
    groups = []
    for marker in markers:
        for depth, element in enumerate((marker, *marker.iterancestors())):
            parent = element.getparent()
            if depth > 6 or parent is None or element.tag in ("body", "html"):
                break
            signature = _signature(element)
            if (parent, signature) in seen:
                continue
            seen.add((parent, signature))
            group = [c for c in parent if isinstance(c.tag, str) and _signature(c) == signature]
            if len(group) >= _MIN_UPDATES and element.tag not in ("time", "span", "a", "b", "strong"):
                groups.append(group)
    return groups


def _flat_updates(tree: HtmlElement) -> list[list[LiveUpdate]]:
    """Return the updates of tickers written flat: a heading that opens with a time, then the
    update's paragraphs as its following siblings."""
    parents: dict[HtmlElement, None] = {}
    for heading in tree.iter(*_HEADINGS):
        parent = heading.getparent()
        if parent is not None and _CLOCK.match(_head_text(heading, 16).lstrip("+-–• ")):
            parents.setdefault(parent)
    found = []
    for parent in parents:
        children = [c for c in parent if isinstance(c.tag, str)]
        marks = [
            i
            for i, child in enumerate(children)
            if child.tag in _HEADINGS and _CLOCK.match(_head_text(child, 16).lstrip("+-–• "))
        ]
        if len(marks) < _MIN_UPDATES:
            continue
        updates = []
        for start, end in zip(marks, [*marks[1:], len(children)], strict=True):
            headline = " ".join(children[start].text_content().split())
            blocks = [b for child in children[start + 1 : end] for b in visible_blocks(child)]
            if blocks:
                updates.append(LiveUpdate(None, headline, "\n".join(blocks)))
        found.append(updates)
    return found


def markup_live_blog(tree: HtmlElement, page_urls: list[str], titles: list[str]) -> LiveBlog | None:
    """Return the update blocks the page's markup shows, or None when it shows no live blog."""
    own = {key for key in map(page_key, page_urls) if key}
    base = page_urls[0] if page_urls else ""
    announced = any(_LIVE_WORDS.search(t.lower()) for t in (*titles, *page_urls))
    candidates = _flat_updates(tree)
    for group in _candidate_groups(tree, announced):
        if _NOT_UPDATE_CLASS.search((group[0].get("class") or "").lower()):
            continue
        if any(a.tag in ("aside", "nav", "footer", "header") for a in group[0].iterancestors()):
            continue
        updates = []
        for element in group:
            update = _entry(element, own, base)
            if update is not None and _link_share(element, element.text_content()) < 0.5:
                updates.append(update)
        if len(updates) >= 0.6 * len(group):
            candidates.append(updates)
    best = max(candidates, key=lambda ups: sum(len(u.text) for u in ups), default=[])
    return LiveBlog(_ordered(best)) if len(best) >= _MIN_UPDATES else None


# ---------------------------------------------------------------------------- the body


def live_body(text: str, blog: LiveBlog) -> str:
    """Return the body of a live blog: the intro of the extracted `text`, every update, then
    what the extraction holds below the updates that no update covers."""
    wanted: set[tuple[str, ...]] = set()
    for update in blog.updates:
        wanted |= shingles(update.text) | shingles(update.headline)
    lines = [line for line in text.split("\n") if line.strip()]
    covered = []
    for line in lines:
        have = shingles(line)
        inside = bool(have) and len(have & wanted) >= 0.5 * len(have)
        covered.append(inside or (not have and norm(line) in {norm(u.headline) for u in blog.updates}))
    first = covered.index(True) if any(covered) else len(lines)
    intro = lines[:first]
    rest = [line for line, inside in zip(lines[first:], covered[first:], strict=True) if not inside]
    if rest and any(covered):
        last = len(covered) - 1 - covered[::-1].index(True)
        rest = [line for i, line in enumerate(lines) if i > last and not covered[i]]
    return "\n".join([*intro, *(u.render() for u in blog.updates), *rest])
