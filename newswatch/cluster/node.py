"""One process of a multi-process deployment: what it does for its roles, and how the
contract (DESIGN "Cluster") is kept when processes are killed at any moment.

- One active scheduler: processes with the `scheduler` role elect one through an advisory lock
  (cluster.election). Only it runs the service's poll schedule, which enqueues a poll job
  instead of polling (`enqueue_poll`), and the singleton jobs: digests, health alarms,
  retention, and `maintain` (below). A standby takes over within seconds of its death.
- Polls run on whichever `crawl` process is free: each runs one engine worker on the service's
  loop, so the Scrapy reactor of the process lives as long as the process. The engine's
  `lock` (by host) keeps one source — and one host — from being polled twice at once
  anywhere; its queueing lock keeps at most one poll of a source waiting.
- A crawl process killed mid-poll stops its engine heartbeat; within STALLED_AFTER + a few
  seconds the scheduler's `maintain` puts the poll back in the queue (or, when the next poll of
  the source is already waiting, lets that one do it), and another crawl process takes it.
  Articles the dead poll stored are matched as usual; URLs already stored are never fetched
  again; the alert tables' UNIQUE constraints make a second alert impossible. Its
  `crawl_runs` row is closed as failed (cluster.processes).
- `match` processes match new articles (claims by `matched_at`, SKIP LOCKED on PostgreSQL);
  `deliver` processes run the dispatcher under its leases. A crawl process wakes the matchers,
  a matcher wakes the dispatchers, through the engine; both also look for work every few
  seconds.
- Every process writes a heartbeat row (cluster.processes) with its roles, its polls in
  flight and its scheduling lag: `newswatch status` and `/metrics` show them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import statistics
import time
import uuid
from collections import deque
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Status

from crawler.urls import host_of
from newswatch.cluster import processes
from newswatch.cluster.election import LeaderElection
from newswatch.cluster.engine import (
    DELIVER_QUEUE,
    DELIVER_TASK,
    MATCH_QUEUE,
    MATCH_TASK,
    POLL_QUEUE,
    POLL_TASK,
    build_engine,
    defer_once,
    engine_dsn,
    ensure_engine_schema,
)
from newswatch.cluster.roles import format_roles
from newswatch.core.db import session_scope
from newswatch.core.models import utcnow

if TYPE_CHECKING:
    from newswatch.service import Service

log = logging.getLogger("newswatch.cluster")

ENGINE_HEARTBEAT = 2.0  # seconds between the engine workers' heartbeats
STALLED_AFTER = 10.0  # a worker silent this long is dead: its jobs are taken up again
MAINTAIN_EVERY = 3.0
# A poll waiting behind another poll of its host becomes runnable when that one ends, which
# the engine announces to nobody: its workers find such polls by looking again this often.
FETCH_EVERY = {"crawl": 0.5, "match": 5.0, "deliver": 5.0}
WORKER_GRACE = 8.0  # seconds a stopping worker gives its jobs (the service's STOP_GRACE)
LAG_WINDOW = 500  # polls over which the scheduling lag's quantiles are taken
LEADER_JOBS = frozenset({"digests", "health", "retention", "maintain"})


class ClusterNode:
    """The roles of this process (see the module docstring); attached to one Service."""

    def __init__(self, roles: frozenset[str]) -> None:
        self.roles = roles
        self.id = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.started_at = utcnow()
        self.in_flight: dict[str, float] = {}
        self.polls_done = 0
        self.lags: deque[float] = deque(maxlen=LAG_WINDOW)
        self.election: LeaderElection | None = None
        self._workers: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self._heartbeat_task: asyncio.Task | None = None
        self._election_task: asyncio.Task | None = None

    def attach(self, service: Service) -> None:
        self.service = service
        service._first_round = None  # this process sees only some of the polls

    @property
    def is_leader(self) -> bool:
        return self.election is not None and self.election.leader

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the engine, start this process's workers, the heartbeat and the election."""
        service = self.service
        logging.getLogger("procrastinate").setLevel(logging.WARNING)  # a line per job otherwise
        dsn = engine_dsn(service.app.database_url)
        schema = await service._in_thread(ensure_engine_schema, dsn)
        log.debug("engine schema: %s", schema)
        self.engine = build_engine(
            dsn,
            run_poll=self.run_poll,
            run_match=service.match_new,
            wake_dispatcher=service._dispatch_kick.set,
        )
        await self.engine.open_async()
        await service._in_thread(self._beat)
        self._heartbeat_task = asyncio.ensure_future(self._heartbeats())
        concurrency = service.config.settings.cluster.crawl_concurrency
        queues = {
            "crawl": (POLL_QUEUE, concurrency),
            "match": (MATCH_QUEUE, 1),
            "deliver": (DELIVER_QUEUE, 1),
        }
        for role, (queue, slots) in queues.items():
            if role in self.roles:
                self._workers.append(asyncio.ensure_future(self._work(role, queue, slots)))
        if "match" in self.roles:
            service._add_periodic({"match"})
        if "scheduler" in self.roles:
            self.election = LeaderElection(dsn, self._won, self._lost)
            self._election_task = asyncio.ensure_future(self.election.elect())
        if "web" in self.roles:
            log.debug("web role: served by the web application where it is installed")
        log.info(
            "cluster process started", extra={"roles": format_roles(self.roles), "process_id": self.id[:8]}
        )

    async def _work(self, role: str, queue: str, slots: int) -> None:
        try:
            await self.engine.run_worker_async(
                name=role,
                queues=[queue],
                concurrency=slots,
                wait=True,
                fetch_job_polling_interval=FETCH_EVERY[role],
                install_signal_handlers=False,
                delete_jobs="always",
                update_heartbeat_interval=ENGINE_HEARTBEAT,
                stalled_worker_timeout=STALLED_AFTER,
                shutdown_graceful_timeout=WORKER_GRACE,
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the %s worker failed: this process stops", role)
            self.service.exit_code = 1
            self.service.request_stop()

    async def stop(self) -> None:
        """Stop scheduling and taking jobs; let jobs under way finish (bounded); say goodbye."""
        if self._election_task is not None:
            self._election_task.cancel()
            await asyncio.gather(self._election_task, return_exceptions=True)
        for worker in self._workers:
            worker.cancel()  # the engine's worker then waits for its jobs (graceful timeout)
        if self._workers:
            await asyncio.wait(self._workers, timeout=WORKER_GRACE + 2)
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
        try:
            await self.service._in_thread(self._goodbye)
        except Exception:  # noqa: BLE001 - the row then simply ages into "gone"
            log.warning("could not record this process's stop")
        await self.engine.close_async()

    # ------------------------------------------------------------------ the scheduler

    async def _won(self) -> None:
        service = self.service
        service._schedule_sources()
        service._add_periodic(LEADER_JOBS - {"maintain"})
        service.scheduler.add_job(
            self.maintain, "interval", seconds=MAINTAIN_EVERY, id="maintain", max_instances=1, coalesce=True,
            replace_existing=True,
        )  # fmt: skip
        await service._in_thread(self._beat)

    async def _lost(self) -> None:
        for job in self.service.scheduler.get_jobs():
            if job.id.startswith("poll:") or job.id in LEADER_JOBS:
                job.remove()

    async def enqueue_poll(self, name: str) -> None:
        """The poll schedule fired for `name`: enqueue its poll (coalesced with a waiting one)."""
        source = self.service.config.source(name)
        queued = await defer_once(
            self.engine,
            POLL_TASK,
            f"poll:{name}",
            f"host:{host_of(source.url)}",
            source=name,
            due=time.time(),
        )
        if not queued:
            log.debug("a poll of this source is still waiting", extra={"source": name})

    async def maintain(self) -> None:
        """Take up the jobs of dead workers again; close abandoned polls; forget old processes."""
        manager = self.engine.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
            source = job.task_kwargs.get("source")
            try:
                await manager.retry_job(job)
                log.warning(
                    "job of a dead process taken up again", extra={"task": job.task_name, "source": source}
                )
            except ConnectorException:  # the same job is waiting already (queueing lock): it will do
                await manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=True)
                log.warning("job of a dead process dropped: its next run is queued", extra={"source": source})
        await self.service._in_thread(self._sweep)

    def _sweep(self) -> None:
        with session_scope(self.service.sessions) as session:
            closed = processes.close_abandoned_polls(session)
            processes.forget_old(session)
        if closed:
            log.warning("closed %d abandoned poll record(s)", closed)

    # ------------------------------------------------------------------ the other roles

    async def run_poll(self, source: str, due: float) -> None:
        """Run one poll job (crawl role) and note how late it started."""
        started = time.time()
        self.lags.append(max(0.0, started - due))
        self.in_flight[source] = started
        try:
            await self.service._shielded(self.service._poll(source))
        except KeyError:
            log.warning("poll of a source this process's config does not have", extra={"source": source})
        finally:
            self.in_flight.pop(source, None)
            self.polls_done += 1

    def wake(self, role: str) -> None:
        """Tell the processes of `match` or `deliver` that there is work (in the background)."""
        task = MATCH_TASK if role == "match" else DELIVER_TASK
        self._spawn(defer_once(self.engine, task, queueing_lock=role))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("waking other processes failed: %s", task.exception())

    # ------------------------------------------------------------------ heartbeats

    def report(self) -> processes.ProcessReport:
        lags = sorted(self.lags)
        return processes.ProcessReport(
            id=self.id,
            host=self.host,
            pid=os.getpid(),
            roles=format_roles(self.roles),
            started_at=self.started_at,
            leader=self.is_leader,
            polls_in_flight=tuple(sorted(self.in_flight)),
            polls_done=self.polls_done,
            lag_p50=statistics.median(lags) if lags else None,
            lag_p95=lags[min(len(lags) - 1, int(0.95 * len(lags)))] if lags else None,
        )

    def _beat(self) -> None:
        with session_scope(self.service.sessions) as session:
            processes.beat(session, self.report())

    def _goodbye(self) -> None:
        with session_scope(self.service.sessions) as session:
            processes.mark_stopped(session, self.id)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(processes.BEAT_EVERY)
            try:
                await self.service._in_thread(self._beat)
            except Exception as exc:  # noqa: BLE001 - the database is away: the next beat tries again
                log.warning(
                    "heartbeat failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                )
