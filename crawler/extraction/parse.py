"""Parsing a decoded page into the lxml tree that metadata and body extraction share.

`parse_html(text)` returns what `trafilatura.load_html(text)` returns for a str (the same
parser options, repairs and sanity checks: tests compare the two), minus three costs:
- trafilatura deletes XML-invalid control characters with a regular expression over the whole
  page (~10 ns per character — a millisecond on a real page), although almost no page holds
  any. Here byte searches at C speed decide; a page that does hold them goes through
  trafilatura's own loader.
- lxml.html's parser picks each element's Python class (form, input, label… have their own)
  with a lookup written in Python, called every time an element is touched from Python —
  hundreds of thousands of calls per page across the extraction. Here every element is a plain
  `HtmlElement` (same methods; no code here or in trafilatura uses the form classes), chosen
  in C.
- lxml reads a str ~30% slower than its UTF-8 bytes, which trafilatura falls back to when the
  str fails; with the parser's encoding fixed both give the same tree. The page is encoded
  once (the control-character test needs the bytes too) and parsed once, from the bytes.
"""

from __future__ import annotations

import logging

from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HTMLParser, HtmlProcessingInstruction, fromstring
from trafilatura import utils as trafilatura_utils

LOGGER = logging.getLogger(__name__)

# trafilatura.utils.INVALID_XML_CHARS: [\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]
_CONTROL_BYTES = [bytes([code]) for code in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))]
_NONCHARACTERS = ("\ufffe".encode(), "\uffff".encode())


# trafilatura.utils.HTML_PARSER's options, with the element classes chosen in C (see above)
_PARSER = HTMLParser(
    collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
)
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
    )
)


def holds_invalid_xml_chars(text: str) -> bool:
    """Return whether `text` holds a character trafilatura's loader would delete."""
    return _holds_invalid_xml_bytes(text.encode("utf-8", "surrogatepass"), text.isascii())


def _holds_invalid_xml_bytes(data: bytes, ascii_only: bool) -> bool:
    """The same test on the text's UTF-8 bytes."""
    if any(byte in data for byte in _CONTROL_BYTES):  # a byte search at memchr speed each
        return True
    return not ascii_only and any(mark in data for mark in _NONCHARACTERS)


def parse_html(text: str, encoded: bytes | None = None) -> HtmlElement | None:
    """Return the page's tree as trafilatura.load_html would (None when it is not HTML).
    `encoded`, when given, must be `text.encode("utf-8")` (the page's bytes, often)."""
    try:
        data = encoded if encoded is not None else text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: trafilatura's own way
        return trafilatura_utils.load_html(text)
    if _holds_invalid_xml_bytes(data, text.isascii()):
        return trafilatura_utils.load_html(text)
    # trafilatura.utils.load_html for a str, after INVALID_XML_CHARS.sub found nothing to do
    beginning = text[:50].lower()
    dubious = trafilatura_utils.is_dubious_html(beginning)
    repaired = text
    if "doctype" in beginning:
        first_line, _, rest = repaired.partition("\n")
        repaired = trafilatura_utils.DOCTYPE_TAG.sub("", first_line, count=1) + "\n" + rest
    for line in repaired[:4096].splitlines()[:4]:
        if "<html" in line and line.endswith("/>"):
            repaired = trafilatura_utils.FAULTY_HTML.sub(r"\1>", repaired, count=1)
            break
    if repaired is not text:
        data = repaired.encode("utf-8")
    # trafilatura parses the str, then its UTF-8 bytes when that fails or yields nothing: the
    # bytes give the same tree (all 217 shared pages, tested), here at once
    tree = None
    try:
        tree = fromstring(data, parser=_PARSER)
    except Exception as exc:  # noqa: BLE001 - as trafilatura: log, no tree
        LOGGER.debug("lxml parsing failed: %s", exc)
    if tree is not None and dubious and len(tree) < 2:
        return None
    return tree
