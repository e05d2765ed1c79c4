"""The three spiders against the fixture site: every feed format, sitemap indexes and news
sitemaps newest first, listings by CSS selector — and `scrapy list` / `scrapy crawl`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from crawl_support import article_fetches, source, stored, write_config
from sqlalchemy import select

from newswatch.core.models import CrawlRun

pytestmark = pytest.mark.timeout(240)
REPO = Path(__file__).resolve().parent.parent


def newest(site, count: int) -> set[str]:
    return {site.url + a.path for a in site.articles[:count]}


@pytest.mark.parametrize("path", ["/feed.xml", "/atom.xml", "/rss1.xml", "/rss091.xml"])
def test_every_feed_format_yields_every_article(tmp_path, site, crawls, path: str) -> None:
    config = write_config(tmp_path / "config", [source("desk", "feed", site.url + path)])
    summary = crawls(config).poll("desk")
    assert (summary.new, summary.errors) == (15, 0), summary.error_messages


def test_feed_poll_takes_the_newest_articles_first(tmp_path, site, crawls, sessions) -> None:
    config = write_config(
        tmp_path / "config", [source("desk", "feed", f"{site.url}/feed.xml", max_articles=4)]
    )
    summary = crawls(config).poll("desk")
    assert summary.new == 4
    with sessions() as session:
        assert {a.canonical_url for a in stored(session)} == newest(site, 4)


def test_articles_are_fetched_newest_first(tmp_path, site, crawls) -> None:
    # The newest article is the one an alert is waiting for: it must not queue behind older ones.
    config = write_config(tmp_path / "config", [source("desk", "feed", f"{site.url}/feed.xml")])
    summary = crawls(config, CONCURRENT_REQUESTS_PER_DOMAIN=1).poll("desk")
    assert summary.new == len(site.articles) == 15
    fetched = [r.path for r in site.requests if r.path.startswith("/articles/")]
    assert fetched == [a.path for a in site.articles]


def test_news_sitemap_yields_articles_with_their_titles(tmp_path, site, crawls, sessions) -> None:
    config = write_config(tmp_path / "config", [source("map", "sitemap", f"{site.url}/news-sitemap.xml")])
    summary = crawls(config).poll("map")
    assert (summary.new, summary.errors) == (15, 0)
    with sessions() as session:
        titles = {a.title for a in stored(session)}
    assert "Station deorbit vehicle passes critical design review" in titles


def test_sitemap_index_is_read_newest_first(tmp_path, site, crawls, sessions) -> None:
    # The index lists the archive first; the newest articles still come first.
    config = write_config(
        tmp_path / "config", [source("map", "sitemap", f"{site.url}/sitemap.xml", max_articles=3)]
    )
    summary = crawls(config).poll("map")
    assert summary.new == 3 and summary.fetched == 3 + 3, "index, two child sitemaps, three articles"
    with sessions() as session:
        assert {a.canonical_url for a in stored(session)} == newest(site, 3)


def test_unchanged_sitemap_index_costs_only_304s(tmp_path, site, crawls) -> None:
    config = write_config(tmp_path / "config", [source("map", "sitemap", f"{site.url}/sitemap.xml")])
    run = crawls(config)
    run.poll("map")
    site.clear_log()
    summary = run.poll("map")
    assert summary.not_modified == summary.fetched == 1
    assert {r.status for r in site.requests} == {304}


def test_broken_child_sitemap_does_not_fail_the_poll(tmp_path, site, crawls) -> None:
    site.behave("/sitemaps/archive.xml", statuses=[404])
    config = write_config(tmp_path / "config", [source("map", "sitemap", f"{site.url}/sitemap.xml")])
    summary = crawls(config).poll("map")
    assert summary.ok and summary.errors == 1
    assert summary.new == len(site.articles) // 2, "the newest half, from the child sitemap that answered"


@pytest.mark.parametrize("selector", ["article.teaser h2 a", "article.teaser"])
def test_listing_follows_only_the_selected_links(tmp_path, site, crawls, selector: str) -> None:
    config = write_config(
        tmp_path / "config", [source("list", "listing", f"{site.url}/news/", links=selector)]
    )
    summary = crawls(config).poll("list")
    assert (summary.new, summary.errors) == (15, 0)
    assert site.hits("/articles/most-read-1.html") == 0, "sidebar links are not articles"
    assert site.hits("/about") == 0 and article_fetches(site) == 15


def test_listing_selector_that_finds_nothing_is_a_warning(tmp_path, site, crawls, sessions) -> None:
    config = write_config(
        tmp_path / "config", [source("list", "listing", f"{site.url}/news/", links="div.no-such-thing a")]
    )
    summary = crawls(config).poll("list")
    assert summary.ok and summary.new == 0
    with sessions() as session:
        assert "found no article links" in session.scalars(select(CrawlRun)).one().error_summary


def test_scrapy_list_works_from_the_repository_root() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["feed", "listing", "sitemap"]


def test_scrapy_crawl_polls_a_configured_source(tmp_path, site, db_url, sessions) -> None:
    config_dir = tmp_path / "config"
    write_config(config_dir, [source("desk", "feed", f"{site.url}/feed.xml")])
    env = {**os.environ, "NEWSWATCH_CONFIG": str(config_dir), "NEWSWATCH_DATABASE_URL": db_url}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "feed",
            "-a",
            "source=desk",
            "-s",
            "AUTOTHROTTLE_START_DELAY=0",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with sessions() as session:
        assert len(stored(session)) == 15
        assert session.scalars(select(CrawlRun)).one().status == "ok"


def test_scrapy_crawl_of_an_unknown_source_says_so(tmp_path, site) -> None:
    config_dir = tmp_path / "config"
    write_config(config_dir, [source("desk", "feed", f"{site.url}/feed.xml")])
    env = {
        **os.environ,
        "NEWSWATCH_CONFIG": str(config_dir),
        "NEWSWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "feed", "-a", "source=nope"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 2
    assert "error: no source named 'nope'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_scrapy_crawl_without_a_source_or_with_the_wrong_spider_says_how(tmp_path, site) -> None:
    config_dir = tmp_path / "config"
    write_config(config_dir, [source("desk", "feed", f"{site.url}/feed.xml")])
    env = {
        **os.environ,
        "NEWSWATCH_CONFIG": str(config_dir),
        "NEWSWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    for args, says in (
        (["feed"], "which source? use: scrapy crawl feed -a source=NAME"),
        (
            ["listing", "-a", "source=desk"],
            "source 'desk' is a feed source: use scrapy crawl feed -a source=desk",
        ),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 2 and says in result.stderr, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
