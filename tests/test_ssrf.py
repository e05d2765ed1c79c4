"""The SSRF guard (crawler/ssrf.py): feeds and redirects cannot point the crawler at the
machine, the local network or a metadata service — and a refused page never stops a crawl."""

from __future__ import annotations

import asyncio
import logging

import pytest
from crawl_support import PUBLIC_NAME, source, stored, write_config
from fixture_site import NewsSite
from receivers import closed_port

from crawler.ssrf import SsrfGuardMiddleware, address_problem
from newswatch.core.errors import ConfigError
from newswatch.core.loading import load_config

pytestmark = pytest.mark.timeout(240)


@pytest.mark.parametrize(
    ("address", "refused_by_default", "refused_with_allow_private"),
    [
        ("93.184.216.34", False, False),
        ("2606:2800:220:1:248:1893:25c8:1946", False, False),
        ("127.0.0.1", True, False),
        ("127.8.9.10", True, False),
        ("::1", True, False),
        ("10.1.2.3", True, False),
        ("172.16.0.1", True, False),
        ("192.168.1.1", True, False),
        ("100.64.0.1", True, False),
        ("fd00::1", True, False),
        ("169.254.169.254", True, True),
        ("fe80::1", True, True),
        ("0.0.0.0", True, True),
        ("::", True, True),
        ("224.0.0.1", True, True),
        ("239.255.255.250", True, True),
        ("255.255.255.255", True, True),
        ("240.0.0.1", True, True),
        ("192.0.2.10", True, True),
        ("::ffff:127.0.0.1", True, False),
        ("::ffff:169.254.169.254", True, True),
        ("64:ff9b::a9fe:a9fe", True, True),
        ("2002:7f00:1::", True, False),
    ],
)
def test_address_policy(address: str, refused_by_default: bool, refused_with_allow_private: bool) -> None:
    assert (address_problem(address) is not None) is refused_by_default
    assert (address_problem(address, allow_private=True) is not None) is refused_with_allow_private


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://example.org/a", "only http and https"),
        ("http://localhost/", "loopback"),
        ("http://127.0.0.1:8080/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://0x7f000001/", None),  # not an IP literal to Python: resolution decides
        ("http://nonexistent.invalid/", "host name not found"),
    ],
)
def test_urls_are_checked_before_any_connection(reactor_loop, url: str, problem: str | None) -> None:
    guard = SsrfGuardMiddleware(crawler=None, resolver=_resolver)
    found = reactor_loop.run_until_complete(guard.check_url(url, allow_private=False))
    if problem is None:
        assert found is None or "loopback" in found
    else:
        assert found is not None and problem in found


async def _resolver(host: str, port: int) -> list[str]:
    from crawler.ssrf import resolve_host

    if host.endswith(".invalid"):
        return []
    return await asyncio.wait_for(resolve_host(host, port), 5)


def test_loopback_source_is_refused_without_allow_private(tmp_path, site, crawls) -> None:
    # `newswatch check` refuses this config (test_config); the guard refuses it at crawl time
    # all the same, for a config that reached the crawler without those checks.
    with pytest.raises(ConfigError, match="allow_private: true"):
        write_config(tmp_path / "config", [{"name": "local", "feed": f"{site.url}/feed.xml"}])
    config = load_config(tmp_path / "config")
    summary = crawls(config).poll("local")
    assert not summary.ok and summary.errors == 1
    assert "127.0.0.1 is a loopback address" in summary.error_messages[0]
    assert site.requests == [], "not even robots.txt was requested"


def _proxied_feed(site: NewsSite, links: list[str]) -> str:
    items = "".join(f"<item><title>{link}</title><link>{link}</link></item>" for link in links)
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    site.add_page("/ssrf/feed.xml", body.encode(), "application/rss+xml")
    return f"http://{PUBLIC_NAME}/ssrf/feed.xml"


def test_redirect_to_private_address_is_refused(tmp_path, site, crawls, sessions, monkeypatch) -> None:
    # The site poses as a public host behind an HTTP proxy; its redirects point inward.
    monkeypatch.setenv("http_proxy", site.url)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    slug = site.articles[0].slug
    feed = _proxied_feed(
        site,
        [
            f"http://{PUBLIC_NAME}/redirect-private",
            f"http://{PUBLIC_NAME}/redirect-other-port",
            f"http://{PUBLIC_NAME}/articles/{slug}.html",
        ],
    )
    config = write_config(tmp_path / "config", [{"name": "public", "feed": feed}])
    summary = crawls(config, SSRF_GUARD_RESOLVER="crawl_support.example_resolver").poll("public")
    assert summary.ok and summary.new == 1, summary.error_messages
    messages = "\n".join(summary.error_messages)
    assert "10.255.255.1 is a private address" in messages
    assert "127.0.0.1 is a loopback address" in messages
    assert site.internal_hits == 0, "the service on the other port was never reached"
    with sessions() as session:
        assert [a.canonical_url for a in stored(session)] == [f"http://{PUBLIC_NAME}/articles/{slug}.html"]


def test_metadata_address_is_refused_even_with_allow_private(tmp_path, site, crawls) -> None:
    feed = site.add_page(
        "/meta/feed.xml",
        f'<rss version="2.0"><channel><item><link>{site.url}/redirect-metadata</link></item></channel></rss>'.encode(),
        "application/rss+xml",
    )
    config = write_config(tmp_path / "config", [source("meta", "feed", feed)])
    summary = crawls(config).poll("meta")
    assert summary.ok and summary.errors == 1
    assert "169.254.169.254 is a link-local address" in summary.error_messages[0]


def test_allow_private_reaches_another_loopback_port(tmp_path, site, crawls) -> None:
    feed = site.add_page(
        "/port/feed.xml",
        f'<rss version="2.0"><channel><item><link>{site.url}/redirect-other-port</link></item></channel></rss>'.encode(),
        "application/rss+xml",
    )
    config = write_config(tmp_path / "config", [source("port", "feed", feed)])
    summary = crawls(config).poll("port")
    assert summary.errors == 0, summary.error_messages
    assert site.internal_hits == 2, "robots.txt and the page: allow_private is the owner's explicit choice"


def test_redirect_to_a_file_url_is_not_followed(tmp_path, site, crawls, sessions) -> None:
    path = site.articles[0].path
    site.behave(path, statuses=[302], redirect="file:///etc/passwd")
    config = write_config(tmp_path / "config", [source("desk", "feed", f"{site.url}/feed.xml")])
    summary = crawls(config).poll("desk")
    assert summary.new == 14
    with sessions() as session:
        assert not any("root:" in a.text for a in stored(session))


def test_dns_answers_are_reused_across_polls_until_they_expire(reactor_loop, monkeypatch) -> None:
    from crawler import ssrf

    monkeypatch.setattr(ssrf, "RESOLVE_CACHE_SECONDS", 0.3)
    monkeypatch.setattr(ssrf, "FAILED_RESOLVE_CACHE_SECONDS", 0.1)
    answers = {"news.example.org": ["93.184.216.34"], "gone.example.org": []}
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return answers[host]

    def check(url: str) -> str | None:  # a new guard each time, as each poll has its own crawler
        guard = SsrfGuardMiddleware(crawler=None, resolver=resolver)
        return reactor_loop.run_until_complete(guard.check_url(url, allow_private=False))

    ssrf.clear_resolve_cache()
    assert check("http://news.example.org/a") is None
    assert check("https://NEWS.example.org:80/b") is None  # same host and port
    assert lookups == ["news.example.org"]
    assert "host name not found" in check("http://gone.example.org/")
    answers["gone.example.org"] = ["93.184.216.35"]
    assert "host name not found" in check("http://gone.example.org/")  # the failure is remembered briefly
    time_to_expire = asyncio.sleep(0.35)
    reactor_loop.run_until_complete(time_to_expire)
    answers["news.example.org"] = ["10.0.0.7"]  # the name moved: the new answer counts after the TTL
    assert "private address" in check("http://news.example.org/c")
    assert check("http://gone.example.org/") is None
    assert lookups.count("news.example.org") == 2 and lookups.count("gone.example.org") == 2
    ssrf.clear_resolve_cache()


def test_a_name_that_does_not_resolve_is_not_worded_as_a_refusal(tmp_path, crawls) -> None:
    config = write_config(tmp_path / "config", [{"name": "gone", "feed": "http://gone.invalid/feed.xml"}])
    summary = crawls(config).poll("gone")
    assert not summary.ok
    message = summary.error_messages[0]
    assert "host name not found: 'gone.invalid'" in message and "http://gone.invalid/" in message
    assert "refused" not in message


def test_a_dead_source_costs_one_line_and_two_connection_attempts(tmp_path, crawls, caplog) -> None:
    port = closed_port()
    config = write_config(tmp_path / "config", [source("dead", "feed", f"http://127.0.0.1:{port}/feed.xml")])
    run = crawls(config)
    with caplog.at_level(logging.INFO):
        summary = run.poll("dead")
    assert not summary.ok and summary.errors == 1
    assert "connection failed" in summary.error_messages[0] and "refused" in summary.error_messages[0].lower()
    assert not any(record.exc_info for record in caplog.records), "no traceback in the log"
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == ["WARNING"]
    stats = run.manager.last_stats["dead"]
    assert stats.get("retry/count", 0) == 1  # the feed once more; robots.txt not at all
