"""Keep secrets from Apprise URLs out of logs, errors and CLI output.

Apprise URLs carry passwords and tokens in the user-info, the host (`tgram://BOTTOKEN/…`),
the path and the query. We never print a URL as given: `redact_url` keeps the scheme and,
where Apprise can parse the URL, Apprise's own privacy rendering; otherwise only the scheme.
`redact_text` scrubs every known secret out of free text such as an exception message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_URL_IN_TEXT = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,20})://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """Return a printable form of an Apprise URL without its secrets."""
    scheme = url.split("://", 1)[0] if "://" in url else "?"
    try:
        from alerts.delivery.console import register_console_plugin
        from newswatch.core.config import quiet_apprise_instantiate

        register_console_plugin()
        servers = quiet_apprise_instantiate(url)
        if servers:
            shown = servers.url(privacy=True)
            # Drop Apprise's long tail of default query options; they are noise, not identity.
            return shown.split("?", 1)[0]
    except Exception:  # noqa: BLE001 - redaction must never fail
        pass
    return f"{scheme}://***"


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Return `text` with every given secret and every URL's credentials masked."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _URL_IN_TEXT.sub(lambda m: _mask_userinfo(m.group(0)), text)


def _mask_userinfo(url: str) -> str:
    scheme, rest = url.split("://", 1)
    if "@" in rest.split("/", 1)[0]:
        userinfo, host = rest.split("@", 1)
        user = userinfo.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
