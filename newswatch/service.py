"""The service behind `newswatch run`: one process, one asyncio event loop, every stage.

Scrapy's asyncio reactor is installed first; APScheduler's AsyncIOScheduler runs on the same
loop. Jobs:

    poll:<source>  per source on its `every` (interval with jitter, or cron), never overlapping
                   itself; a missed run is coalesced into one
    match          after each poll (and every few seconds): new articles → matches → outbox,
                   in one transaction per batch (alerts.delivery.outbox)
    dispatch       a loop woken after matching (and every 2 s): pending deliveries → Apprise
    digests        every few seconds: closes due digests; one missed while down goes out on start
    health         alarms for admin subscribers when a source keeps failing or falls silent
    retention      hourly: raw HTML older than `retention.raw_html` is dropped (text is kept)

Blocking work (database batches, Apprise sends) runs in worker threads; extraction runs in
the crawler's process pool; the loop stays free.

    changes        every second: the config revision; when sources, rules or subscribers were
                   changed through the API, the config is rebuilt as on SIGHUP
    web            the web interface and HTTP API (newswatch.web), served by uvicorn on this loop

Stop: SIGTERM / SIGINT stop scheduling and give in-flight work STOP_GRACE seconds; what is
abandoned is safe (deliveries are leased and retried after restart, a poll is repeated).
Reload: SIGHUP re-validates the config; on an error the running config is kept.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text

from crawler.runner import reactor_event_loop
from newswatch import jobs, stop_signals
from newswatch.app import App
from newswatch.cluster.roles import ALL_ROLES
from newswatch.core.config import Config
from newswatch.core.errors import UserError
from newswatch.first_round import FirstRound
from newswatch.metrics import start_metrics_server
from newswatch.outage import DatabaseOutage
from newswatch.poll_jobs import sync_poll_jobs

if TYPE_CHECKING:  # the engine (Procrastinate) is loaded only by `run --roles` on PostgreSQL
    from newswatch.cluster.node import ClusterNode

log = logging.getLogger("newswatch.service")


class _QuietCancelledJobs(logging.Filter):
    """A job that the scheduler's shutdown cancels is part of stopping, not an error: APScheduler
    would log it with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


logging.getLogger("apscheduler.executors.default").addFilter(_QuietCancelledJobs())

STOP_GRACE = 8.0  # seconds in-flight work may take after SIGTERM before it is abandoned
MATCH_EVERY = 5.0
DISPATCH_EVERY = 2.0
DIGESTS_EVERY = 5.0
HEALTH_EVERY = 30.0
RETENTION_EVERY = 3600.0
CHANGES_EVERY = 1.0  # how often the config revision is read: API changes apply within ~2 s


class WebInterface(Protocol):
    """The web server the CLI hands in (newswatch.web.server.WebServer)."""

    context: Any  # newswatch.web.context.WebContext
    url: str
    serving: bool

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class Service:
    """The long-running newswatch process (see the module docstring)."""

    def __init__(
        self,
        app: App,
        *,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
        cluster: ClusterNode | None = None,
        web: Callable[[Callable[[], Config]], WebInterface] | None = None,
    ) -> None:
        self.app = app
        # `run --roles`: one process of a deployment (newswatch.cluster); None: every role here.
        self.cluster = cluster
        self.roles = cluster.roles if cluster is not None else ALL_ROLES
        self._make_web = web
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        self.config = app.config  # validated before anything starts: a broken config exits 2
        self.exit_code = 0
        self.counters: dict[str, int] = {}
        self._in_flight: set[asyncio.Task] = set()
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="newswatch-worker")
        self._stopping = False
        self._index_lock = threading.Lock()
        self.first_round = FirstRound()
        self.outage = DatabaseOutage()
        if cluster is not None:
            cluster.attach(self)

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; return the exit status."""
        self.loop = reactor_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self._threads.shutdown(wait=False, cancel_futures=True)
        return self.exit_code

    async def _main(self) -> None:
        try:
            await self._startup()
            await self._stopped.wait()
            await self._shutdown()
        except UserError as exc:
            log.error(str(exc))
            self.exit_code = 2
        except Exception:
            log.exception("the service failed")
            self.exit_code = 1

    async def _startup(self) -> None:
        self._stopped = asyncio.Event()
        self._dispatch_kick = asyncio.Event()
        self._match_lock = asyncio.Lock()
        self.sessions = await self._in_thread(lambda: self.app.sessions)  # migrates the schema first
        self.file_config = self.config
        self.config, self._revision = await self._in_thread(self.app.managed_config, self.file_config)
        self.compiled = self.app.compile_rules(self.config)
        self.crawls = self.app.crawl_manager(self.config) if "crawl" in self.roles else None
        self.dispatcher = self.app.dispatcher(self.config)

        for signum in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(signum, self.request_stop, signum)
        self.loop.add_signal_handler(signal.SIGHUP, self.request_reload)

        # The interface first: its address (and a set-up link) shows before the first polls.
        self.web = self._make_web(lambda: self.file_config) if self._make_web else None
        if self.web is not None:
            self.web.context.poll_now = self.poll_on_request
            await self.web.start()
        self.scheduler = AsyncIOScheduler(event_loop=self.loop, timezone=UTC)
        if self.cluster is None:  # in a cluster, the elected scheduler adds them (cluster.node)
            self._schedule_sources()
            self._add_periodic()
        # Every process follows the config's changes made through the API (and SIGHUP).
        self.scheduler.add_job(
            self.pick_up_changes,
            "interval",
            seconds=CHANGES_EVERY,
            id="changes",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=CHANGES_EVERY),
        )
        self.scheduler.start()
        self._dispatch_task = (
            asyncio.ensure_future(self._dispatch_loop()) if "deliver" in self.roles else None
        )
        if self.cluster is not None:
            await self.cluster.start()
        if self.metrics_port is not None:
            self._metrics_server = await start_metrics_server(self, self.metrics_host, self.metrics_port)
        log.info(
            "newswatch running",
            extra={
                "sources": len(self.config.sources),
                "rules": len(self.config.rules),
                "subscribers": len(self.config.subscribers),
                "config": str(self.app.config_dir),
            },
        )
        if stop_signals.requested.is_set():  # a signal came while the service was starting
            self.request_stop()

    def request_stop(self, signum: int | None = None) -> None:
        """Begin a graceful stop (signal handler)."""
        if self._stopping:
            log.warning("second stop signal: exiting now; leased work is retried after restart")
            os._exit(0)
        self._stopping = True
        log.info("stopping", extra={"signal": signal.Signals(signum).name if signum else "request"})
        self._stopped.set()

    async def _shutdown(self) -> None:
        if getattr(self, "web", None) is not None:
            await self.web.stop()
        self.scheduler.shutdown(wait=False)
        self._dispatch_kick.set()
        if self.cluster is not None:
            await self.cluster.stop()
        pending = {t for t in self._in_flight if not t.done()} | ({self._dispatch_task} - {None})
        if pending:
            done, still = await asyncio.wait(pending, timeout=STOP_GRACE)
            if still:
                log.warning(
                    "abandoning in-flight work after %.0fs; it is retried after restart",
                    STOP_GRACE,
                    extra={"tasks": len(still)},
                )
        try:
            if self.crawls is not None:
                await asyncio.wait_for(self.crawls.close(), timeout=3)
        except TimeoutError:
            log.warning("crawler did not close in time")
        if getattr(self, "_metrics_server", None):
            self._metrics_server.close()
        self.app.close()
        log.info("stopped")

    # ------------------------------------------------------------------ scheduling

    def _add_periodic(self, job_ids: set[str] | frozenset[str] | None = None) -> None:
        """Add the periodic jobs (those named in `job_ids`, default all) to the scheduler."""
        now = datetime.now(UTC)
        periodic = (
            (self.match_new, "match", MATCH_EVERY, now),
            (self.close_digests, "digests", DIGESTS_EVERY, now),
            (self.check_health, "health", HEALTH_EVERY, now + timedelta(seconds=HEALTH_EVERY)),
            (self.drop_old_html, "retention", RETENTION_EVERY, now + timedelta(seconds=60)),
        )
        for func, job_id, seconds, first in periodic:
            if job_ids is None or job_id in job_ids:
                self.scheduler.add_job(
                    func,
                    "interval",
                    seconds=seconds,
                    id=job_id,
                    max_instances=1,
                    coalesce=True,
                    next_run_time=first,
                    replace_existing=True,
                )

    def _schedule_sources(self) -> None:
        sync_poll_jobs(self.scheduler, self.config, self.poll)

    def request_reload(self) -> None:
        """SIGHUP: re-validate the config files and switch to them; keep the running config on error."""
        try:
            file_config = self.app.reload_config()
        except UserError as exc:
            log.error("config reload failed, keeping the running config: %s", exc)
            return
        self.file_config = file_config
        self._revision = -1  # makes the `changes` pass merge the API's entities into it, now
        self._track(self.pick_up_changes())

    async def pick_up_changes(self) -> None:
        """Rebuild the config when the files were reloaded or the API changed an entity."""
        if self._stopping:
            return
        revision = await self._in_thread(self.app.config_revision)
        if revision is None or revision == self._revision:
            return
        loaded = await self._in_thread(self.app.managed_config, self.file_config)
        if loaded is not None:
            self._switch_to(*loaded)

    def _switch_to(self, config: Config, revision: int) -> None:
        try:
            compiled = self.app.compile_rules(config)
        except UserError as exc:
            log.error("config change refused, keeping the running config: %s", exc)
            self._revision = revision
            return
        self.config, self.compiled, self._revision = config, compiled, revision
        self.dispatcher = self.app.dispatcher(config)
        # New and changed sources apply at their next poll; crawl: settings need a restart.
        if self.crawls is not None:
            self.crawls.config = config
            self.crawls.context.config = config
        if self.cluster is None or self.cluster.is_leader:
            self._schedule_sources()
        log.info(
            "config reloaded",
            extra={
                "sources": len(config.sources),
                "rules": len(config.rules),
                "subscribers": len(config.subscribers),
            },
        )

    # ------------------------------------------------------------------ jobs

    def _track(self, coro: Coroutine) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return task

    async def _shielded(self, work: Coroutine) -> Any:
        """Run `work` as a tracked task that the scheduler's shutdown cannot cancel; a job
        cancelled at shutdown returns None quietly while the work itself may finish."""
        task = self._track(work)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            return None

    async def _in_thread(self, func: Callable, *args: Any) -> Any:
        """Run blocking (database) work in a worker thread; while the database is unavailable,
        return None after one log line for the whole outage (newswatch.outage)."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, self._checked, func, args)
        except Exception as exc:
            if self.outage.failed(exc):
                return None
            raise

    def _checked(self, func: Callable, args: tuple) -> Any:
        result = func(*args)
        if self.outage.ongoing:  # the job may not have needed the database: ask it
            with self.sessions() as session:
                session.execute(text("SELECT 1"))
            self.outage.succeeded()
        return result

    def _count(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by

    def poll_on_request(self, name: str) -> None:
        """Poll a source now (the web interface's "Poll now"; callable from any thread)."""
        self.loop.call_soon_threadsafe(lambda: self._track(self.poll(name)))

    async def poll(self, name: str, every: str | None = None) -> None:
        """Poll one source, then match what it brought."""
        if self._stopping:
            return
        if self.cluster is not None:  # the elected scheduler: a crawl process will run it
            await self.cluster.enqueue_poll(name)
            return
        # Shielded: stopping the scheduler cancels its jobs, but a poll under way may finish.
        await self._shielded(self._poll(name))

    async def _poll(self, name: str) -> None:
        summary = await self.crawls.poll(name)
        self._count(f"polls:{name}:{'error' if summary.errors and not summary.fetched else 'ok'}")
        self._count("articles_new", summary.new)
        log.info(
            "polled",
            extra={
                "source": name,
                "fetched": summary.fetched,
                "not_modified": summary.not_modified,
                "new": summary.new,
                "duplicates": summary.duplicates,
                "errors": summary.errors,
            },
        )
        web = getattr(self, "web", None)  # not there yet when the first poll beats the web start
        self.first_round.note(summary, self.config, web.url if web is not None and web.serving else None)
        if summary.new:
            await self.match_new()
        if summary.errors or summary.new:
            await self.check_health()

    async def match_new(self) -> None:
        """Match new articles and write their alerts (one transaction per batch)."""
        if self._stopping:
            return
        if "match" not in self.roles:
            self.cluster.wake("match")
            return
        async with self._match_lock:
            matched = await self._shielded(
                self._in_thread(jobs.match_new_articles, self.sessions, self.config, self.compiled)
            )
        self._count("articles_matched", matched or 0)
        if matched:
            self._wake_dispatcher()
            # After the dispatcher is woken: indexing for search must not delay alerts.
            await self._shielded(self._in_thread(jobs.index_for_search, self.sessions, self._index_lock))

    async def close_digests(self) -> None:
        if self._stopping:
            return
        # The first pass after start also sends what waits for a digest that no longer exists
        # (a subscriber switched from digest to instant while the service was down).
        on_start, self._digests_started = not getattr(self, "_digests_started", False), True
        closed = await self._shielded(
            self._in_thread(jobs.close_digests, self.sessions, self.config, on_start)
        )
        if closed:
            self._wake_dispatcher()

    def _wake_dispatcher(self) -> None:
        """New deliveries are due: wake this process's dispatcher, or the deliver processes'."""
        if "deliver" in self.roles:
            self._dispatch_kick.set()
        else:
            self.cluster.wake("deliver")

    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            try:
                sent = await self._in_thread(self.dispatcher.run_once)
                self._count("deliveries_attempted", sent or 0)
            except Exception:
                log.exception("dispatcher pass failed")
                sent = 0
            if sent:
                continue
            try:
                await asyncio.wait_for(self._dispatch_kick.wait(), timeout=DISPATCH_EVERY)
            except TimeoutError:
                pass
            self._dispatch_kick.clear()

    async def check_health(self) -> None:
        if self._stopping:
            return
        raised = await self._shielded(self._in_thread(jobs.raise_alarms, self.sessions, self.config))
        if raised:
            self._wake_dispatcher()

    async def drop_old_html(self) -> None:
        await self._shielded(self._in_thread(jobs.drop_old_html, self.sessions, self.config))
