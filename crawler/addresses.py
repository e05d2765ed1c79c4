"""Which addresses the crawler may connect to: loopback and private ones only for a source
with `allow_private`, link-local (cloud metadata), multicast, unspecified and reserved ones
never. Pure functions of an address, without Scrapy or DNS: the SSRF guard (crawler.ssrf)
applies them to every resolved request, `newswatch check` to the configured source URLs.
"""

from __future__ import annotations

import functools
import ipaddress
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_PRIVATE_NETWORKS = [
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress | str, allow_private: bool = False) -> str | None:
    """Return why the crawler must not connect to `address`, or None when it may."""
    return _address_problem(str(address), allow_private)


@functools.lru_cache(maxsize=4096)
def _address_problem(address: str, allow_private: bool) -> str | None:
    return _judge(ipaddress.ip_address(address), allow_private)


def _judge(ip: IPAddress, allow_private: bool) -> str | None:
    inner = _embedded_ipv4(ip)
    if inner is not None:
        return _judge(inner, allow_private)
    if ip.is_unspecified:
        return f"{ip} is an unspecified address"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if ip.is_link_local:
        return f"{ip} is a link-local address (cloud metadata services live there)"
    if ip.is_loopback:
        return None if allow_private else f"{ip} is a loopback address"
    if any(ip in network for network in _PRIVATE_NETWORKS if network.version == ip.version):
        return None if allow_private else f"{ip} is a private address"
    if ip.is_reserved or not ip.is_global:
        return f"{ip} is a reserved, non-global address"
    return None


LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def source_url_problem(url: str, allow_private: bool) -> str | None:
    """Return why every poll of a source at `url` would be refused, or None. Decided without
    DNS (for `newswatch check`): IP literals and the loopback names only; the guard judges the
    resolved addresses of every request at crawl time as well."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    literal = ip_literal(host)
    if literal is not None:
        problem = _judge(literal, allow_private)
    elif host in LOOPBACK_NAMES or host.endswith(".localhost"):
        problem = None if allow_private else f"{host} is a loopback address"
    else:
        return None
    if problem is None:
        return None
    if allow_private or "loopback" not in problem and "private" not in problem:
        return f"{problem}: the crawler refuses it for every source"
    return f"{problem}: the crawler refuses it unless the source has allow_private: true"


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
