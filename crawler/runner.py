"""Running polls: the programmatic API of the crawler (the service and `newswatch crawl`).

    install_asyncio_reactor()                 # before anything imports twisted.internet.reactor
    manager = CrawlManager(config, database, progress=callback)   # database: core.db.Database
    summary = await manager.poll("nasa-news") # on the reactor's asyncio loop
    await manager.close()

    crawl_once(config, database, ["nasa-news"])   # blocking, for the CLI

The Twisted reactor is Scrapy's AsyncioSelectorReactor, bound to one asyncio event loop for
the life of the process (`reactor_event_loop()` returns it): run the service on that loop.
`poll()` starts the reactor if needed (without blocking: the asyncio loop drives it) and
runs one Scrapy crawl through `CrawlerRunner`, awaited as a future. Polls of sources on the
same host run one after another, so per-domain politeness holds across sources; polls of
different hosts run concurrently. Site and network failures end up in the summary, never as
exceptions.

Each manager owns a pool of worker processes (crawler.pool) that parse, extract and store;
`close()` stops them (they also exit by themselves if this process dies). As with any
multiprocessing code, a script that uses the manager must guard its entry point with
`if __name__ == "__main__":`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Callable

from crawler import polls
from crawler.addons import config_overrides
from crawler.context import CrawlContext
from crawler.records import CrawlSummary
from crawler.spiders.feed import FeedSpider
from crawler.spiders.listing import ListingSpider
from crawler.spiders.sitemap import SitemapSpider
from crawler.urls import host_of
from newswatch.core.config import Config
from newswatch.core.db import Database
from newswatch.core.models import utcnow

__all__ = ["CrawlManager", "CrawlSummary", "crawl_once", "install_asyncio_reactor", "reactor_event_loop"]

log = logging.getLogger(__name__)
ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def install_asyncio_reactor() -> None:
    """Install Scrapy's AsyncioSelectorReactor unless a reactor is installed (idempotent).

    Called inside a running asyncio loop, the reactor is bound to that loop; otherwise to the
    thread's current (or a new) event loop. Another reactor already installed is an error.
    """
    from scrapy.utils.reactor import install_reactor, is_asyncio_reactor_installed, is_reactor_installed

    if is_reactor_installed():
        if not is_asyncio_reactor_installed():
            raise RuntimeError("a Twisted reactor other than the asyncio one is already installed")
        return
    install_reactor(ASYNCIO_REACTOR)


def reactor_event_loop() -> asyncio.AbstractEventLoop:
    """Return the asyncio loop the reactor runs on (installing the reactor first if needed)."""
    install_asyncio_reactor()
    from twisted.internet import reactor

    return reactor._asyncioEventloop


def _ensure_reactor_running() -> None:
    """Mark the reactor as running (its startup triggers start the DNS thread pool) without
    blocking: the asyncio loop that is already running drives it."""
    install_asyncio_reactor()
    from twisted.internet import reactor

    if reactor.running:
        return
    reactor.startRunning(installSignalHandlers=False)
    # The reactor's thread pool threads are not daemons and nobody calls reactor.stop() when
    # the loop simply ends: stop the pool when the interpreter exits, before it joins threads.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(_stop_reactor_threads)


def _stop_reactor_threads() -> None:
    from twisted.internet import reactor

    pool = getattr(reactor, "threadpool", None)
    if pool is not None and pool.started:
        pool.stop()


# The crawling process's garbage collector (see tune_garbage_collector).
GC_THRESHOLDS = (5000, 20, 20)
_gc_tuned = False


def tune_garbage_collector() -> None:
    """Raise the cyclic garbage collector's thresholds for this process (never lowers them; once).

    Scrapy and Twisted make short-lived reference cycles on every request, and with CPython's
    default thresholds (700, 10, 10) the collector's passes over the older generations — the
    whole heap of a process that has loaded Scrapy, SQLAlchemy and the service — cost ~1 ms of
    CPU per fetched article (measured on the bench: ~2.5 s of 2,400 articles' ~16 s). Young
    cycles are still collected; the passes over older objects come an order of magnitude less
    often.
    """
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    current = gc.get_threshold()
    gc.set_threshold(*(max(now, wanted) for now, wanted in zip(current, GC_THRESHOLDS, strict=True)))


def build_settings(config: Config, overrides: dict | None = None):
    """Return the Scrapy settings of a crawl: crawler.settings, the config's `crawl:`, overrides."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.update(config_overrides(config.settings.crawl), priority="project")
    if overrides:
        settings.update(overrides, priority="cmdline")
    return settings


def load_components(settings) -> None:
    """Import the download handlers, middlewares and extensions a crawl will load.

    Scrapy imports them when the first crawler is built, deep in a call stack; one of them
    (the HTTP/1.1 handler, through a deprecation shim that walks `inspect.stack()`) then costs
    ~0.5 s, which delayed the service's first poll after every start. Imported here, at start,
    they cost a fraction of that.
    """
    from scrapy.utils.misc import load_object

    paths = list(settings.getwithbase("DOWNLOAD_HANDLERS").values())  # scheme -> handler
    for name in ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES", "EXTENSIONS", "ITEM_PIPELINES"):
        paths.extend(settings.getwithbase(name))  # component -> order
    for path in paths:
        if isinstance(path, str) and "." in path:
            load_object(path)


SPIDERS = {"feed": FeedSpider, "sitemap": SitemapSpider, "listing": ListingSpider}


class CrawlManager:
    """Polls configured sources; one instance per process, shared by every poll."""

    def __init__(
        self,
        config: Config,
        database: Database,
        *,
        progress: Callable[[str, dict], None] | None = None,
        scrapy_settings: dict | None = None,
        workers: int | None = None,
    ) -> None:
        tune_garbage_collector()
        self.config = config
        self.context = CrawlContext(config, database, progress=progress, workers=workers)
        self.settings = build_settings(config, scrapy_settings)
        load_components(self.settings)
        self._runner = None
        self._host_locks: dict[str, asyncio.Lock] = {}
        self.last_stats: dict[str, dict] = {}

    def _crawler_runner(self):
        if self._runner is None:
            from scrapy.crawler import CrawlerRunner

            self._runner = CrawlerRunner(self.settings)
        return self._runner

    async def poll(self, source_name: str) -> CrawlSummary:
        """Poll one source once and return what happened (KeyError for an unknown name)."""
        source = self.config.source(source_name)
        _ensure_reactor_running()
        from scrapy.utils.defer import deferred_to_future

        lock = self._host_locks.setdefault(host_of(source.url), asyncio.Lock())
        async with lock:
            started = utcnow()
            runner = self._crawler_runner()
            crawler = runner.create_crawler(SPIDERS[source.kind])
            crawler.newswatch_context = self.context
            finished: list[CrawlSummary] = []
            crawler.signals.connect(
                lambda summary: finished.append(summary), signal=polls.poll_finished, weak=False
            )
            failure: str | None = None
            try:
                await deferred_to_future(runner.crawl(crawler, source=source.name))
            except Exception as exc:  # a poll never raises for a site or network problem
                log.exception("poll failed", extra={"source": source.name})
                failure = f"discovery: crawl failed: {type(exc).__name__}: {exc}"
            self.last_stats[source.name] = dict(crawler.stats.get_stats()) if crawler.stats else {}
            if not finished:
                return CrawlSummary(
                    source=source.name,
                    fetched=0,
                    not_modified=0,
                    new=0,
                    duplicates=0,
                    errors=1,
                    error_messages=[failure or "discovery: crawl did not start"],
                    started_at=started,
                    finished_at=utcnow(),
                    ok=False,
                )
            summary = finished[0]
            if failure:
                summary.errors += 1
                summary.error_messages.append(failure)
                summary.ok = False
            return summary

    async def close(self) -> None:
        """Stop the extraction workers and release the database."""
        await self.context.close()


def crawl_once(
    config: Config,
    database: Database,
    source_names: list[str] | None = None,
    progress: Callable[[str, dict], None] | None = None,
    *,
    scrapy_settings: dict | None = None,
) -> list[CrawlSummary]:
    """Poll the named sources (default: every enabled source) once, concurrently; block until
    done and return their summaries in the order given. For the CLI."""
    names = source_names if source_names is not None else [s.name for s in config.sources if s.enabled]
    for name in names:
        config.source(name)  # KeyError before anything starts
    loop = reactor_event_loop()
    if loop.is_running():
        raise RuntimeError("crawl_once() blocks: inside a running event loop, await CrawlManager.poll()")

    async def run_all() -> list[CrawlSummary]:
        manager = CrawlManager(config, database, progress=progress, scrapy_settings=scrapy_settings)
        try:
            return list(await asyncio.gather(*(manager.poll(name) for name in names)))
        finally:
            await manager.close()

    return loop.run_until_complete(run_all())
