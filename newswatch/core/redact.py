"""Keep secrets out of free text: log lines, stored errors, command output.

`redact_text` masks every secret it is given (the logging formatter's registered secrets, a
notify URL's secret parts) and the credentials of any URL written in the text. The display
form of a notify URL comes from Apprise's privacy rendering, in the delivery stage
(`alerts.delivery.channels.redact_url`), which is the one module that knows Apprise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_URL_IN_TEXT = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,20})://[^\s'\"<>]+")


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
