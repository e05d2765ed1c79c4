"""Building blocks for the crawler tests: articles, a config written from Python, and a
CrawlManager with quick politeness settings (the `site`, `reactor_loop` and `crawls`
fixtures built on them are in conftest.py).

Crawls run for real: Scrapy under the asyncio reactor, HTTP to the fixture site on
127.0.0.1, extraction in worker processes, the real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from fixture_site import FixtureArticle, NewsSite
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.records import CrawlSummary
from newswatch.app import load_checked_config
from newswatch.core.config import Config
from newswatch.core.db import Database
from newswatch.core.models import Article

# Politeness settings that keep a test to a second or two (production: see crawler/settings.py).
FAST = {
    "AUTOTHROTTLE_START_DELAY": 0.0,
    "AUTOTHROTTLE_MAX_DELAY": 0.5,
    "RETRY_BACKOFF_BASE": 0.05,
    "RETRY_BACKOFF_MAX": 0.2,
    "DOWNLOAD_TIMEOUT": 10,
}
POLL_TIMEOUT = 90.0


_VOCABULARY = (
    "orbit station module crew launch engineers review budget contract lander rover probe "
    "telescope mission schedule agency partners cargo docking thruster propellant booster "
    "payload satellite antenna mirror instrument sample capsule parachute heat shield "
    "countdown simulation hardware software flight controllers ground teams tracking radar "
    "debris solar array radiator airlock hatch spacesuit experiment laboratory microgravity"
).split()


def distinct_paragraphs(slug: str, count: int = 3, length: int = 40) -> list[str]:
    """Return `count` paragraphs of plausible words, different for every slug (so that test
    articles are not near duplicates of each other)."""
    rng = random.Random(slug)
    return [" ".join(rng.choice(_VOCABULARY) for _ in range(length)).capitalize() + "." for _ in range(count)]


def article(slug: str, *, hours_ago: float = 1.0, **kwargs) -> FixtureArticle:
    """Return an article with a body of its own, published `hours_ago`."""
    paragraphs = kwargs.pop("paragraphs", None) or distinct_paragraphs(slug)
    return FixtureArticle(
        slug=slug,
        title=kwargs.pop("title", f"Story {slug}"),
        paragraphs=paragraphs,
        published=kwargs.pop(
            "published", datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago)
        ),
        summary=kwargs.pop("summary", f"Summary of {slug}."),
        author=kwargs.pop("author", "Test Writer"),
        **kwargs,
    )


def write_config(directory: Path, sources: list[dict], settings: dict | None = None) -> Config:
    """Write a config directory with these sources (no rules, no subscribers); return it loaded."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True))
    (directory / "rules.yaml").write_text("rules: []\n")
    (directory / "subscribers.yaml").write_text("subscribers: []\n")
    if settings:
        (directory / "settings.yaml").write_text(yaml.safe_dump(settings))
    return load_checked_config(directory)


def source(name: str, kind: str, url: str, **extra) -> dict:
    """A sources.yaml entry reaching the loopback fixture site (allow_private: true)."""
    return {"name": name, kind: url, "allow_private": True, **extra}


class Crawls:
    """A CrawlManager for one test, polled synchronously on the reactor's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, config: Config, db_url: str, **settings) -> None:
        from crawler.runner import CrawlManager

        self.loop = loop
        self.events: list[tuple[str, dict]] = []
        self.manager = CrawlManager(
            config,
            Database(db_url),
            progress=lambda event, data: self.events.append((event, data)),
            scrapy_settings={**FAST, **settings},
            workers=1,
        )

    def poll(self, name: str) -> CrawlSummary:
        return self.loop.run_until_complete(asyncio.wait_for(self.manager.poll(name), POLL_TIMEOUT))

    def poll_all(self, *names: str) -> list[CrawlSummary]:
        async def run() -> list[CrawlSummary]:
            return list(await asyncio.gather(*(self.manager.poll(n) for n in names)))

        return self.loop.run_until_complete(asyncio.wait_for(run(), POLL_TIMEOUT))

    def close(self) -> None:
        self.loop.run_until_complete(self.manager.close())


def stored(session: Session) -> list[Article]:
    """Every stored article, oldest id first."""
    return list(session.scalars(select(Article).order_by(Article.id)))


def article_fetches(site: NewsSite) -> int:
    """Requests the site received for article pages (not feeds, sitemaps or robots.txt)."""
    return sum(1 for r in site.requests if r.path.startswith(("/articles/", "/private/", "/redirect/")))


# A name the tests reach through the fixture site acting as an HTTP proxy: to the SSRF guard
# it is a public host (TEST-NET addresses would be refused as non-global), and with the proxy
# no packet ever leaves the loopback interface (.example names never resolve in real DNS).
PUBLIC_NAME = "news.example"


async def example_resolver(host: str, port: int) -> list[str]:
    """SSRF_GUARD_RESOLVER for tests: news.example is public, everything else as usual."""
    from crawler.ssrf import resolve_host

    if host == PUBLIC_NAME:
        return ["93.184.216.34"]
    return await resolve_host(host, port)
