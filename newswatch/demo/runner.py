"""`newswatch demo`: the whole pipeline, offline, against the bundled news site.

It starts the local news site on 127.0.0.1 with a backlog of old articles (stored, never
alerted: the backfill guard), writes a demo config beside a fresh SQLite database in a
temporary folder, runs the real service on it, and publishes one new article every few
seconds — the alerts appear in the terminal through `console://` within a minute. The same
stories also appear in a partner feed with tracking parameters: no alert is repeated.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from newswatch.app import App
from newswatch.core.db import shown_database
from newswatch.core.models import Article, Source
from newswatch.demo.site import DemoSite, bundled_articles
from newswatch.service import Service

log = logging.getLogger("newswatch.demo")

DEMO_RULES = """\
rules:
  - name: roscosmos
    query: 'Roscosmos OR Роскосмос* OR "Russian space agency"'
  - name: iss-deorbit
    query: 'deorbit* AND (ISS OR =МКС OR "space station" OR "International Space Station")'
  - name: crew-launch
    query: '(launch* OR "lifts off" OR liftoff) AND (Soyuz OR Союз OR "Crew Dragon" OR Starliner) AND (crew* OR astronaut* OR cosmonaut*)'
  - name: station-operations
    query: '(ISS OR "space station" OR МКС) AND (debris OR leak OR reboost OR маневр* OR манёвр* OR мусор*)'
"""


DEMO_SOURCE_NAMES = ("orbital-desk", "orbital-desk-partner")


def demo_sources(site_url: str, every: str) -> str:
    return f"""\
sources:
  - name: orbital-desk
    feed: {site_url}/feed.xml
    every: {every}
    allow_private: true        # the demo site runs on 127.0.0.1
  - name: orbital-desk-partner
    feed: {site_url}/partner/feed.xml   # the same stories, links with utm_* / fbclid
    every: {every}
    allow_private: true
"""


DEMO_SUBSCRIBERS = """\
subscribers:
  - name: demo-desk
    notify: ["console://"]
    rules: [roscosmos, iss-deorbit, crew-launch, station-operations]
    digest: null
"""

DEMO_SETTINGS = """\
delivery:
  backoff_initial: 2s
  backoff_max: 30s
health:
  silent_after: 1h
"""


def write_demo_config(directory: Path, site_url: str, every: str = "3s") -> Path:
    """Write the demo's sources/rules/subscribers/settings into `directory`; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sources.yaml").write_text(demo_sources(site_url, every), encoding="utf-8")
    (directory / "rules.yaml").write_text(DEMO_RULES, encoding="utf-8")
    (directory / "subscribers.yaml").write_text(DEMO_SUBSCRIBERS, encoding="utf-8")
    (directory / "settings.yaml").write_text(DEMO_SETTINGS, encoding="utf-8")
    return directory


def split_backlog(now: datetime) -> tuple[list, list]:
    """Return (backlog older than a day, fresh articles to publish one by one, oldest first)."""
    articles = bundled_articles(now)
    backlog = [a for a in articles if now - a.published > timedelta(hours=24)]
    fresh = sorted(
        (a for a in articles if now - a.published <= timedelta(hours=24)), key=lambda a: a.published
    )
    return backlog, fresh


class Publisher(threading.Thread):
    """Publishes the fresh articles one at a time, each dated the moment it appears."""

    def __init__(self, site: DemoSite, articles: list, interval: float) -> None:
        super().__init__(name="demo-publisher", daemon=True)
        self.site, self.queue, self.interval = site, list(articles), interval
        self.stopped = threading.Event()

    def run(self) -> None:
        for article in self.queue:
            if self.stopped.wait(self.interval):
                return
            fresh = replace(article, published=datetime.now(UTC).replace(microsecond=0))
            self.site.publish(fresh)
            log.info("demo site published an article", extra={"title": fresh.title})


def run_demo(
    database_url: str | None = None, interval: float = 6.0, every: str = "3s", keep: bool = False
) -> int:
    """Run the demo until Ctrl-C; return the service's exit status."""
    now = datetime.now(UTC)
    backlog, fresh = split_backlog(now)
    folder = Path(tempfile.mkdtemp(prefix="newswatch-demo-"))
    site = DemoSite(backlog).start()
    publisher = Publisher(site, fresh, interval)
    try:
        config_dir = write_demo_config(folder / "config", site.url, every)
        url = database_url or f"sqlite:///{folder / 'demo.db'}"
        app = App(config_option=config_dir, db_option=url)
        print(f"newswatch demo: news site at {site.url}  (feed {site.url}/feed.xml)")
        print(f"  config {config_dir}, database {shown_database(url)}")
        print(
            f"  data: {folder} — "
            + ("kept when the demo stops" if keep else "deleted when the demo stops (--keep keeps it)")
            + ("; the database is yours and stays" if database_url else "")
        )
        known = _demo_stories_in(app)
        if known:
            print(
                f"  this database already holds {known} of the demo's articles: their stories were alerted "
                "before and will not alert again (one alert per story); use a fresh --db to see alerts"
            )
        else:
            print(
                f"  {len(backlog)} old articles are stored without alerting; {len(fresh)} new ones appear "
                f"every {interval:.0f}s and alert here. Ctrl-C stops."
            )
        service = Service(app)
        publisher.start()
        return service.run()
    finally:
        publisher.stopped.set()
        site.stop()
        if keep:
            print(f"newswatch demo: data kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
            print(
                f"newswatch demo: deleted {folder}"
                + (f"; {shown_database(database_url)} is kept" if database_url else "")
            )


def _demo_stories_in(app: App) -> int:
    """Return how many articles of the demo's sources the database holds already."""
    with app.sessions() as session:
        return (
            session.scalar(
                select(func.count(Article.id)).join(Source).where(Source.name.in_(DEMO_SOURCE_NAMES))
            )
            or 0
        )
