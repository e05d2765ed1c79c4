"""The SSRF guard: a downloader middleware that refuses requests to non-public addresses.

A feed is untrusted input: its links (and the redirects behind them) could point the crawler
at the machine it runs on, the office network, or a cloud metadata endpoint. Every request —
the feed itself, each article, robots.txt, and every redirect hop (Scrapy sends a redirect
target through the middlewares again) — is checked before it is sent:

- only `http` and `https` URLs pass;
- the host is resolved (or parsed, for an IP literal) and *every* address it resolves to must
  be acceptable; an IPv4 address embedded in IPv6 (mapped, 6to4, NAT64, Teredo) is judged as
  IPv4;
- loopback and private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) pass only
  for a source with `allow_private: true`;
- link-local (169.254/16 — where cloud metadata services live — and fe80::/10), multicast,
  unspecified (0.0.0.0, ::) and other reserved or non-global ranges are refused for everyone;
- a host that does not resolve is not fetched (`HostNotFound`: the fetch would fail anyway).

A refused request raises `IgnoreRequest` with a message saying why; the spider's errback
counts it as an error of the poll, and the crawl goes on. The addresses are resolved here and
again by the downloader, so a DNS answer that changes in between (DNS rebinding) is not
caught; the resolver is a setting (`SSRF_GUARD_RESOLVER`) for deployments that need more.

Answers are remembered for the whole process (every poll, every crawler) for
`RESOLVE_CACHE_SECONDS`, a failed lookup for `FAILED_RESOLVE_CACHE_SECONDS` only; the verdict
on an address is a pure function of it and is memoised.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.utils.misc import load_object

from crawler.addresses import address_problem, ip_literal

Resolver = Callable[[str, int], Awaitable[list[str]]]

RESOLVE_CACHE_SECONDS = 60.0
FAILED_RESOLVE_CACHE_SECONDS = 5.0
RESOLVE_CACHE_MAX_HOSTS = 10_000

# (resolver, host, port) -> (expires at, addresses): shared by every guard in this process.
_RESOLVED: dict[tuple[Resolver, str, int], tuple[float, list[str]]] = {}


def clear_resolve_cache() -> None:
    """Forget every remembered DNS answer (tests, and a config reload)."""
    _RESOLVED.clear()


class RefusedAddress(IgnoreRequest):
    """A request the SSRF guard refused; the message says which address and why."""


NAME_NOT_FOUND = "host name not found:"


class HostNotFound(IgnoreRequest):
    """A request whose host name does not resolve: not a refusal, the name is not there (yet)."""


async def resolve_host(host: str, port: int) -> list[str]:
    """Return every address `host` resolves to (the system resolver, off the event loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


class SsrfGuardMiddleware:
    """Downloader middleware: refuse requests whose host resolves to a forbidden address."""

    def __init__(self, crawler, resolver: Resolver) -> None:
        self.crawler = crawler
        self.resolver = resolver

    @classmethod
    def from_crawler(cls, crawler) -> SsrfGuardMiddleware:
        resolver = load_object(crawler.settings.get("SSRF_GUARD_RESOLVER") or "crawler.ssrf.resolve_host")
        return cls(crawler, resolver)

    def _allow_private(self) -> bool:
        spider = getattr(self.crawler, "spider", None)
        return bool(getattr(spider, "allow_private", False))

    async def process_request(self, request, spider=None) -> None:
        problem = await self.check_url(request.url, self._allow_private())
        if problem and problem.startswith(NAME_NOT_FOUND):
            raise HostNotFound(f"{problem}: {request.url}")
        if problem:
            raise RefusedAddress(f"refused by the SSRF guard: {request.url}: {problem}")

    async def check_url(self, url: str, allow_private: bool) -> str | None:
        """Return why `url` must not be fetched, or None."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return "not a valid URL"
        if parts.scheme not in ("http", "https"):
            return f"only http and https URLs are fetched, not {parts.scheme or 'scheme-less'} URLs"
        host = parts.hostname or ""
        if not host:
            return "URL without a host"
        port = port or (443 if parts.scheme == "https" else 80)
        literal = ip_literal(host)
        addresses = [str(literal)] if literal is not None else await self._resolve(host, port)
        if not addresses:
            return f"{NAME_NOT_FOUND} {host!r} (DNS lookup failed)"
        for address in addresses:
            problem = address_problem(address, allow_private)
            if problem:
                hint = (
                    " (set allow_private: true on the source to allow it)"
                    if allow_private is False and ("loopback" in problem or "private" in problem)
                    else ""
                )
                return f"{host} resolves to {problem}{hint}" if literal is None else problem + hint
        return None

    async def _resolve(self, host: str, port: int) -> list[str]:
        key = (self.resolver, host.lower(), port)
        now = time.monotonic()
        cached = _RESOLVED.get(key)
        if cached and cached[0] > now:
            return cached[1]
        try:
            addresses = await self.resolver(host, port)
        except (OSError, UnicodeError):
            addresses = []
        if len(_RESOLVED) >= RESOLVE_CACHE_MAX_HOSTS:  # links to many hosts: drop the stale ones
            for stale in [k for k, (expires, _) in _RESOLVED.items() if expires <= now]:
                del _RESOLVED[stale]
            if len(_RESOLVED) >= RESOLVE_CACHE_MAX_HOSTS:
                _RESOLVED.clear()
        ttl = RESOLVE_CACHE_SECONDS if addresses else FAILED_RESOLVE_CACHE_SECONDS
        _RESOLVED[key] = (time.monotonic() + ttl, addresses)
        return addresses
