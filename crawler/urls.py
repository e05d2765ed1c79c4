"""URL normalisation: one spelling per article URL, so that variants never cost a second fetch.

The contract (what `normalise_url` guarantees, in order):

1. Relative URLs are resolved against `base`; surrounding whitespace is dropped.
2. Only `http` and `https` are accepted (anything else raises `ValueError`); the scheme and the
   host are lower-cased, an internationalised host is written in IDNA (punycode), a trailing
   dot on the host is dropped, and the default port (80 / 443) is removed.
3. The path is percent-encoded consistently (UTF-8; unreserved characters decoded, hex upper
   case) and `.` / `..` segments are resolved; an empty path becomes `/`. A trailing slash is
   kept: `/a` and `/a/` can be different pages.
4. Tracking parameters are removed from the query: every `utm_*`, and the click and campaign
   identifiers in `TRACKING_PARAMETERS` / `TRACKING_PREFIXES` (`fbclid`, `gclid`, `mc_cid`,
   `yclid`, …). The remaining parameters are sorted (by name, then value); blank values are
   kept; an empty query disappears.
5. The fragment (`#…`) is dropped: it never reaches the server.

What it never does: drop `www.`, change `http` to `https`, or remove a parameter not listed
here — those can name a different page, and the page's own `rel=canonical` (read after the
fetch) is what joins such spellings to one article.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that only tell the publisher (or an ad network) how the reader arrived.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "yclid",
        "ysclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "_openstat",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "s_cid",
        "vero_conv",
        "vero_id",
        "wickedid",
        "ref_src",
        "ref_url",
        "cmpid",
        "ito",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "sr_share",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
    }
)
TRACKING_PREFIXES = ("utm_", "hsa_", "pk_", "mtm_", "matomo_", "piwik_", "__hs", "stm_")


def is_tracking_parameter(name: str) -> bool:
    """Return True when a query parameter only tracks the visit (never selects content)."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def _idna_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") or host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"invalid host name {host!r}") from None


def normalise_url(url: str, base: str | None = None) -> str:
    """Return the one normal spelling of an http(s) URL (see the module docstring)."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("empty URL")
    raw = url.strip()
    if base:
        raw = urljoin(base, raw)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"URL without a host: {url!r}")
    host = _idna_host(parts.hostname)
    if ":" in host and not host.startswith("["):  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_parameter(k)]
    )
    rebuilt = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
    return canonicalize_url(rebuilt, keep_blank_values=True, keep_fragments=False)


def try_normalise(url: str | None, base: str | None = None) -> str | None:
    """Return `normalise_url(url)`, or None when `url` is missing or not an http(s) URL."""
    if not url:
        return None
    try:
        return normalise_url(url, base)
    except ValueError:
        return None


def url_variants(*urls: str | None) -> list[str]:
    """Return each given URL and its normal spelling, without repeats, in order."""
    seen: dict[str, None] = {}
    for url in urls:
        if not url:
            continue
        seen.setdefault(url.strip(), None)
        normal = try_normalise(url)
        if normal:
            seen.setdefault(normal, None)
    return list(seen)


def host_of(url: str) -> str:
    """Return the lower-case host of `url` ('' when it has none)."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


_SITE_PREFIXES = ("www.", "m.", "amp.", "mobile.")


def _site_host(host: str) -> str:
    for prefix in _SITE_PREFIXES:
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host


def same_site(a: str, b: str) -> bool:
    """Return True when two URLs belong to one site: the same host, ignoring a `www.` / `m.` /
    `amp.` / `mobile.` label, or one host a subdomain of the other.

    A page may only name a canonical URL on its own site: otherwise a hostile page could claim
    another site's article URL and stop it from ever being fetched.
    """
    ha, hb = _site_host(host_of(a)), _site_host(host_of(b))
    if not ha or not hb:
        return False
    return ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha)
