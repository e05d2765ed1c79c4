"""Keep secrets out of everything that leaves the process: log lines, stored errors, command
output, messages, pages.

One display form for every URL (`display_url`): no userinfo; the values of query parameters
whose names look secret (`key`, `apikey`, `token`, `secret`, `password`, `pass`, `auth`, `sig`,
`signature`, `access_token`, … and Apprise's `-param` / `+header` values) as `***`; and the
generic webhook schemes (`json://`, `xml://`, `form://` and their `s` forms), whose paths are
tokens (Discord, Zapier, Home Assistant hooks), as scheme, host and port only.

`redact_text` applies it to every URL written in free text and masks every secret it is given
(the log formatter's registered secrets: each notify URL's and source URL's secret parts and
the database password, registered once when the configuration loads). `url_secret_parts` says
which parts of a URL are secret, so that they can be registered. The display of notify URLs
with Apprise's knowledge of each service is in `alerts.delivery.channels.redact_url`, built on
this one.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

_URL_IN_TEXT = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,20})://[^\s'\"<>]+")
_SECRET_NAME = re.compile(
    r"(key|token|secret|passw|^pass$|^pwd$|auth|^sig$|signature|credential|session|^code$|^hash$|^jwt$)",
    re.IGNORECASE,
)
WEBHOOK_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
MASK = "***"


def secret_name(name: str) -> bool:
    """Whether a query parameter's name says its value is a secret (`apikey`, `X-Api-Key`, …)."""
    bare = name.lstrip("-+")
    return name[:1] in "-+" or bool(_SECRET_NAME.search(bare))


def display_url(url: str) -> str:
    """Return `url` as it may be shown anywhere (see the module docstring)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed port or address: show nothing of it
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return f"{scheme}://{MASK}" if scheme else MASK
    host = f"[{host}]" if ":" in host else host
    if parts.scheme.lower() in WEBHOOK_SCHEMES:
        return f"{parts.scheme}://{host}{port}"
    query = "&".join(
        f"{name}={MASK if secret_name(name) else value}" if value != "" else name
        for name, value in _query_pairs(parts.query)
    )
    shown = f"{parts.scheme}://{host}{port}{parts.path}"
    if query:
        shown += f"?{query}"
    return shown


def _query_pairs(query: str) -> list[tuple[str, str]]:
    # keep_blank_values: `?flag` stays; a bare `+` is a header prefix here, not a space.
    return parse_qsl(query.replace("+", "%2B"), keep_blank_values=True)


def url_secret_parts(url: str) -> list[str]:
    """Return the parts of `url` that must never be shown: the userinfo's password (and its
    Basic-auth header form), secret-looking query values and, for a generic webhook, its
    path segments and query values."""
    try:
        parts = urlsplit(url)
        password = parts.password
        username = parts.username
    except ValueError:
        return []
    found: list[str] = []
    if password:
        found += [password, unquote(password)]
        credentials = f"{unquote(username or '')}:{unquote(password)}".encode()
        found.append(base64.b64encode(credentials).decode())  # what an echoed Authorization shows
    webhook = parts.scheme.lower() in WEBHOOK_SCHEMES
    for name, value in _query_pairs(parts.query):
        if value and (webhook or secret_name(name)):
            found += [value, unquote(value)]
    if webhook:
        found += [segment for segment in parts.path.split("/") if len(segment) >= 6]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Return `text` with every given secret masked and every URL in it in its display form."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _URL_IN_TEXT.sub(lambda m: _shown(m.group(0)), text)


def _shown(url: str) -> str:
    # A URL in a sentence may end in punctuation that belongs to the sentence.
    tail = ""
    while url and url[-1] in ".,;:)]}":
        url, tail = url[:-1], url[-1] + tail
    return display_url(url) + tail


def excerpt(text: str, limit: int = 300) -> str:
    """Return the first `limit` characters of a remote server's answer, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
