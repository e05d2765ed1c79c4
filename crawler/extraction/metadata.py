"""What a page says about itself: JSON-LD, OpenGraph / Twitter cards and plain meta tags.

Precedence per field (first non-empty wins):
- title: JSON-LD `headline`, `og:title`, `twitter:title`, the first `<h1>`, `<title>`.
- authors: JSON-LD `author` (names, not URLs), `meta[name=author]`, `article:author` (when it is
  a name), `parsely-author`, `sailthru.author`, `byl`; the caller may add trafilatura's byline.
- published: JSON-LD `datePublished`, `article:published_time`, other publication meta tags,
  `<time datetime>` marked as publication time. updated: JSON-LD `dateModified`,
  `article:modified_time`, `og:updated_time`.
- language: `<html lang>`, `http-equiv=content-language`, JSON-LD `inLanguage`, `og:locale`.
- canonical URL: `<link rel=canonical>`, `og:url`, JSON-LD `url` (resolved against the page URL).
- description: `og:description`, `meta[name=description]`, `twitter:description`, JSON-LD.
- site name: `og:site_name`, JSON-LD publisher name, `application-name`.

Only JSON-LD objects of an article-like `@type` (or without a type) are read, so a page's
breadcrumbs, organisation or video objects do not stand in for the article.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from lxml import etree
from lxml.html import HtmlElement

from crawler.extraction.dates import parse_date
from crawler.extraction.jsonld import json_ld_roots, types, walk

_ARTICLE_TYPES = re.compile(
    r"article|posting|report|blog|webpage|liveblog|creativework|analysis|opinion|review|backgroundnews",
    re.I,
)
_ROLE = re.compile(r"\b(?:writer|correspondent|reporter|editor|contributor|columnist)\b", re.I)
_SPACES = re.compile(r"\s+")
_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(?:[-_][a-zA-Z0-9]{2,8})*$")


@dataclass
class PageMetadata:
    """Metadata fields found in a page's head and structured data; absent fields are None/empty."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    description: str | None = None
    site_name: str | None = None
    article_body: str | None = None
    title_candidates: list[str] = field(default_factory=list)
    live_postings: list[dict] = field(default_factory=list)  # JSON-LD LiveBlogPosting objects
    json_ld_roots: list[Any] = field(default_factory=list)  # all the page's JSON-LD (live blogs only)


def _clean(text: Any) -> str | None:
    """Return the text with entities decoded and whitespace collapsed, None when empty."""
    if not isinstance(text, str):
        return None
    if "&" in text:  # meta content and JSON-LD are often escaped twice
        text = html.unescape(text)
    text = _SPACES.sub(" ", text).strip()
    return text or None


def json_ld_objects(tree: HtmlElement, roots: list[Any] | None = None) -> list[dict]:
    """Return the article-like JSON-LD objects of the page, most article-like first (the
    updates of a live blog are its parts, not the page's article: they are left out)."""
    objects: list[dict] = []
    for obj in walk(json_ld_roots(tree) if roots is None else roots, skip=frozenset({"liveBlogUpdate"})):
        kind = types(obj)
        if (not kind and ("headline" in obj or "articleBody" in obj)) or _ARTICLE_TYPES.search(kind):
            objects.append(obj)
    # NewsArticle / Article before WebPage
    objects.sort(key=lambda o: 0 if re.search(r"article|posting|report|blog", types(o), re.I) else 1)
    return objects


def _names(value: Any) -> list[str]:
    """Return person names from a JSON-LD author value (string, object or list of either)."""
    names: list[str] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, list):
            name = " ".join(str(n) for n in name)
        names.extend(split_authors(name))
    return names


def split_authors(text: str | None) -> list[str]:
    """Return the names in a byline string ("By A, B and C" → [A, B, C])."""
    text = _clean(text)
    if not text or text.startswith(("http:", "https:")):
        return []
    text = re.sub(r"^(?:by|von|par|por|di|от|автор:?)\s+", "", text, flags=re.I)
    parts = re.split(r"\s*(?:;|,|\band\b|\bund\b|\bet\b|&|\|)\s*", text)
    names = []
    for part in parts:
        part = part.strip(" .")
        # job titles and credentials after a comma ("AP Auto Writer", "MS") are not names
        if len(part) < 3 or len(part) > 100 or _ROLE.search(part) or part.startswith(("http:", "https:")):
            continue
        names.append(part)
    return names


_BYLINE = None
_BYLINE_CLASS = re.compile(r"(^|\s|-)(byline|author-name|article-author|author)(\s|$|__name)", re.I)
_AUTHOR_PROPERTY_TAGS = frozenset(("span", "div", "p", "a"))
_BYLINE_CLASS_TAGS = frozenset(("span", "div", "p", "address"))


def _byline_xpath():
    """The definition of a byline element, as one XPath (document order)."""
    global _BYLINE
    if _BYLINE is None:
        from lxml import etree

        _BYLINE = etree.XPath(
            "//body//*[@itemprop='author']//*[@itemprop='name'] | //body//a[@rel='author']"
            " | //body//*[self::span or self::div or self::p or self::a][@itemprop='author']"
            " | //body//*[self::span or self::div or self::p or self::address]"
            "[re:test(@class, '(^|\\s|-)(byline|author-name|article-author|author)(\\s|$|__name)', 'i')]",
            namespaces={"re": "http://exslt.org/regular-expressions"},
        )
    return _BYLINE


def byline_elements(tree: HtmlElement) -> Iterator[HtmlElement]:
    """Yield the elements `_byline_xpath()` selects, in document order, lazily.

    The caller usually stops at the first one (bylines sit near the top), and one walk of the
    body costs less than the XPath's four scans with a regular-expression callback each."""
    bodies = list(tree.iter("body"))
    if len(bodies) != 1:  # not what an HTML parser makes: leave it to the definition
        yield from _byline_xpath()(tree)
        return
    body = bodies[0]
    walk = body.iter(etree.Element)
    next(walk)  # the body itself is not a candidate
    for element in walk:
        tag = element.tag
        if tag == "a" and element.get("rel") == "author":
            yield element
        elif tag in _AUTHOR_PROPERTY_TAGS and element.get("itemprop") == "author":
            yield element
        elif tag in _BYLINE_CLASS_TAGS and _BYLINE_CLASS.search(element.get("class") or ""):
            yield element
        elif element.get("itemprop") == "name" and _inside_author(element, body):
            yield element


def _inside_author(element: HtmlElement, body: HtmlElement) -> bool:
    for ancestor in element.iterancestors():
        if ancestor is body:
            return False
        if ancestor.get("itemprop") == "author":
            return True
    return False


def byline_authors(tree: HtmlElement) -> list[str]:
    """Return author names from the page's visible byline (rel=author, itemprop, byline classes)."""
    for element in byline_elements(tree):
        if element.getparent() is not None and any(
            "comment" in (a.get("class") or "").lower() for a in element.iterancestors()
        ):
            continue
        names = split_authors(element.text_content())
        names = [n for n in names if 2 <= len(n) <= 60 and not any(c.isdigit() for c in n)]
        if names and len(names) <= 6:
            return names
    return []


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _meta_index(tree: HtmlElement) -> dict[str, str]:
    """Return meta tag contents keyed by lower-case property/name/itemprop/http-equiv (first wins)."""
    index: dict[str, str] = {}
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if content is None:
            continue
        for attribute in ("property", "name", "itemprop", "http-equiv"):
            key = meta.get(attribute)
            if key:
                index.setdefault(key.strip().lower(), content)
    return index


def normalise_language(value: str | None) -> str | None:
    """Return a BCP 47 language tag in lower case with a hyphen ("en_US" → "en-us"), or None."""
    value = _clean(value)
    if not value:
        return None
    value = value.split(",")[0].strip().replace("_", "-")
    if not _LANGUAGE.match(value):
        return None
    return value.lower()


def extract_metadata(tree: HtmlElement, url: str | None = None) -> PageMetadata:
    """Return the metadata the page declares (reads the tree, does not modify it)."""
    meta = _meta_index(tree)
    roots = json_ld_roots(tree)
    objects = json_ld_objects(tree, roots)
    found = PageMetadata()

    def ld(key: str) -> Any:
        for obj in objects:
            value = obj.get(key)
            if value:
                return value
        return None

    # title
    h1 = next(iter(tree.iter("h1")), None)
    title_tag = next(iter(tree.iter("title")), None)
    candidates = [
        _clean(ld("headline")),
        _clean(meta.get("og:title")),
        _clean(meta.get("twitter:title")),
        _clean(h1.text_content()) if h1 is not None else None,
        _clean(title_tag.text_content()) if title_tag is not None else None,
    ]
    found.title_candidates = [c for c in candidates if c]
    found.title = found.title_candidates[0] if found.title_candidates else None

    # authors
    authors = _names(ld("author")) or _names(ld("creator"))
    if not authors:
        for key in ("author", "article:author", "parsely-author", "sailthru.author", "byl", "dc.creator"):
            authors = split_authors(meta.get(key))
            if authors:
                break
    found.authors = _unique(authors)

    # dates
    found.published = parse_date(_clean(ld("datePublished")) or _clean(ld("dateCreated")))
    if found.published is None:
        for key in (
            "article:published_time",
            "datepublished",
            "og:published_time",
            "publish-date",
            "pubdate",
            "parsely-pub-date",
            "sailthru.date",
            "dc.date.issued",
            "dc.date",
            "date",
        ):
            found.published = parse_date(meta.get(key))
            if found.published:
                break
    if found.published is None:
        for time_element in tree.xpath("//time[@datetime][@pubdate or @itemprop='datePublished']"):
            found.published = parse_date(time_element.get("datetime"))
            if found.published:
                break
    found.updated = parse_date(_clean(ld("dateModified")))
    if found.updated is None:
        for key in ("article:modified_time", "og:updated_time", "datemodified", "last-modified"):
            found.updated = parse_date(meta.get(key))
            if found.updated:
                break

    # language
    root = tree.getroottree().getroot()
    found.language = (
        normalise_language(root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang"))
        or normalise_language(meta.get("content-language"))
        or normalise_language(ld("inLanguage") if isinstance(ld("inLanguage"), str) else None)
        or normalise_language(meta.get("og:locale"))
    )

    # canonical URL
    canonical = None
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            canonical = link.get("href").strip()
            break
    ld_url = ld("url")
    canonical = (
        canonical or _clean(meta.get("og:url")) or (_clean(ld_url) if isinstance(ld_url, str) else None)
    )
    if canonical:
        canonical = urljoin(url, canonical) if url else canonical
        if not canonical.startswith(("http://", "https://")):
            canonical = None
    found.canonical_url = canonical

    # description, site name
    found.description = (
        _clean(meta.get("og:description"))
        or _clean(meta.get("description"))
        or _clean(meta.get("twitter:description"))
        or _clean(ld("description"))
    )
    publisher = ld("publisher")
    publisher_name = None
    if isinstance(publisher, dict):
        publisher_name = _clean(publisher.get("name"))
    elif isinstance(publisher, list) and publisher and isinstance(publisher[0], dict):
        publisher_name = _clean(publisher[0].get("name"))
    found.site_name = (
        _clean(meta.get("og:site_name")) or publisher_name or _clean(meta.get("application-name"))
    )

    found.live_postings = [o for o in objects if "liveblogposting" in types(o).lower()]
    if found.live_postings:
        found.json_ld_roots = roots
    body = ld("articleBody")
    found.article_body = body.strip() if isinstance(body, str) and body.strip() else None
    return found
