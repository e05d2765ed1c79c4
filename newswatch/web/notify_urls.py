"""Checks on a notify URL given through the API: Apprise must know it, and a URL that points
at a loopback or private address (the same rule as a source's `allow_private`) is an admin's
to give — from a user it would make the server send requests into its own network. Link-local
(cloud metadata) and other non-global addresses are refused for everyone.
"""

from __future__ import annotations

import socket
from urllib.parse import parse_qsl, urlsplit

from alerts.delivery.channels import redact_url, url_problem
from crawler.addresses import LOOPBACK_NAMES, address_problem, ip_literal

LOCAL_SCHEMES = ("console",)  # prints on the server's terminal
RESOLVE_TIMEOUT = 2.0


def _hosts(url: str) -> list[str]:
    parts = urlsplit(url)
    hosts = [parts.hostname or ""]
    # mailto:// takes its SMTP server from ?smtp=HOST
    hosts += [v for k, v in parse_qsl(parts.query) if k.lower() in ("smtp", "host", "server")]
    return [h.strip("[]").rstrip(".").lower() for h in hosts if h]


def _addresses(host: str) -> list[str]:
    literal = ip_literal(host)
    if literal is not None:
        return [str(literal)]
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return ["127.0.0.1"]
    previous = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(RESOLVE_TIMEOUT)
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # not a host name (a bot token, say) or not resolvable: nothing to reach
    finally:
        socket.setdefaulttimeout(previous)
    return sorted({info[4][0] for info in infos})


def notify_problem(url: str, admin: bool) -> str | None:
    """Return why this principal may not use `url` (secrets redacted), or None."""
    problem = url_problem(url)
    if problem:
        return problem
    scheme = url.split("://", 1)[0].lower()
    if scheme in LOCAL_SCHEMES and not admin:
        return f"{scheme}:// delivers on the server itself: only an admin may use it"
    for host in _hosts(url):
        for address in _addresses(host):
            why = address_problem(address, allow_private=admin)
            if why:
                suffix = (
                    ""
                    if admin or ("loopback" not in why and "private" not in why)
                    else (": only an admin may send to loopback or private addresses")
                )
                return f"{redact_url(url)} points at {why}{suffix}"
    return None
