"""Decoding page bytes to text, the way browsers do.

Order: a byte-order mark; then the charset the page declares (`<meta charset>` or
`<meta http-equiv="Content-Type">` in its first 4 KB, or an HTTP `Content-Type` header when the
caller has one); then, for undeclared pages, strict UTF-8; then a statistical guess
(charset_normalizer). Labels follow the WHATWG mapping, so `iso-8859-1` decodes as windows-1252
(curly quotes in the 0x80–0x9F range come out right). A page declared UTF-8 whose bytes are not
UTF-8 is decoded by the guess instead, since the declaration is then wrong. The other way
round too: bytes that are valid UTF-8 and not plain ASCII are UTF-8 whatever the page declares
(a page re-encoded by a CMS or a cache keeps its old `charset=iso-8859-1`; text in a legacy
encoding practically never forms valid multi-byte UTF-8 sequences). trafilatura decides so too.
"""

from __future__ import annotations

from w3lib.encoding import html_body_declared_encoding, html_to_unicode, resolve_encoding


def _guess(data: bytes) -> str:
    """Return the encoding name of undeclared bytes: UTF-8 if they are valid, else a guess."""
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    sample = data if len(data) <= 20000 else data[:10000] + data[-10000:]
    best = from_bytes(sample).best()
    if best is not None and best.encoding:
        return best.encoding
    return "cp1252"


def _is_utf8(encoding: str) -> bool:
    return encoding.replace("-", "").replace("_", "").lower() == "utf8"


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """Return the page's text, decoded by BOM, declared charset or a guess (never raises)."""
    return decode_page(data, content_type)[0]


def decode_page(data: bytes, content_type: str | None = None) -> tuple[str, bytes | None]:
    """Return decode_html(data), and `data` itself when the text is exactly its UTF-8 decoding
    (most pages; the parser then reads those bytes instead of encoding the text again)."""
    try:
        encoding, text = html_to_unicode(content_type, data, auto_detect_fun=_guess)
    except Exception:  # noqa: BLE001 - a broken label or codec must not stop a crawl
        return data.decode("utf-8", errors="replace"), None
    if not _is_utf8(encoding) and not data.isascii():
        try:
            return data.decode("utf-8"), data
        except UnicodeDecodeError:
            pass
    if _is_utf8(encoding) and "\ufffd" not in text and not data.startswith(b"\xef\xbb\xbf"):
        return text, data  # decoded as UTF-8 without a replacement: the bytes are its UTF-8
    return _checked(data, encoding, text), None


def _checked(data: bytes, encoding: str, text: str) -> str:
    """Return the text, or the guess's decoding when a UTF-8 declaration was wrong."""
    if _is_utf8(encoding) and "\ufffd" in text:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            declared = html_body_declared_encoding(data)
            if declared and resolve_encoding(declared) in ("utf-8", "utf8"):
                guess = _guess(data)
                if guess.replace("-", "").lower() != "utf8":
                    try:
                        return data.decode(guess, errors="replace")
                    except LookupError:
                        pass
    return text
