"""The worker process pool: CPU-bound work off the event loop, on every core.

Parsing feeds and sitemaps, extracting articles (trafilatura, SimHash) and storing them is
CPU-bound Python: run on the event loop it would stall every download, and in threads it
would share one core through the GIL with the loop. The pool's worker processes are started
by a forkserver that has already imported (and exercised) the extraction stack. After
`recycle_after` tasks the pool is replaced by a fresh one (bounded memory; the old workers
finish what they were given, then exit) — not with `max_tasks_per_child`, which deadlocks on
Python 3.11–3.13 (CPython gh-115634). Workers exit when the crawling process is gone, even if
it was killed without a chance to stop them. A worker that dies or a task that takes longer
than `timeout` seconds fails that task only: the pool is rebuilt and the crawl goes on.

`workers=0` runs extraction in a thread instead (for debugging and comparisons).

Pages are many and small, so `batcher()` groups them: while every worker is busy, pages that
arrive wait and leave together as one task (at most `size`), which pays the inter-process
round trip — pickling, two helper threads, a wake-up of the event loop — once per batch
instead of once per page. A page that finds a worker free still leaves at once, alone.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from crawler.items import FeedEntry
from crawler.work import ProcessedPage, process_page, warm_up

log = logging.getLogger(__name__)
T = TypeVar("T")
A = TypeVar("A")

DEFAULT_TIMEOUT = 120.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
PRELOAD = ["crawler.warmup"]


class PoolFailed(Exception):
    """A task the pool could not finish: its worker crashed, or it ran past the timeout."""


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (not Linux): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker the moment its parent (the forkserver, which
    itself exits when the crawling process is gone) exits."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the watcher thread below does it
        pass


def watch_parent(pid: int, interval: float = 0.25) -> None:
    """Worker initializer: exit as soon as the crawling process `pid` is gone (else a killed
    service would leave its workers — and their forkserver — waiting for work forever).
    Ctrl-C reaches the whole process group: workers ignore SIGINT and let the parent decide."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()

    def watch() -> None:
        while _process_alive(pid):
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="newswatch-parent-watch", daemon=True).start()


def start_forkserver(preload: list[str]) -> None:
    """Start multiprocessing's forkserver (once per process) so that neither a Ctrl-C nor the
    current directory can break it.

    The forkserver imports `preload` before it installs its own SIGINT guard, so a Ctrl-C in
    its first second printed a KeyboardInterrupt traceback: it starts with SIGINT blocked (a
    thread's signal mask survives fork and exec; Python only reads it). And Python 3.11's
    forkserver keeps `-c`'s sys.path, whose first entry is the current directory: a folder
    named like one of our packages there shadowed the installed one in every worker
    (PYTHONSAFEPATH leaves it out)."""
    from multiprocessing import forkserver, resource_tracker

    resource_tracker.ensure_running()  # first: starting it unblocks SIGINT in this thread
    forkserver.set_forkserver_preload(preload)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        forkserver.ensure_running()  # PYTHONSAFEPATH is set: see keep_current_directory_out
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def keep_current_directory_out() -> None:
    """Set PYTHONSAFEPATH for the processes this one starts (the forkserver and its workers), for
    good. Call it from the thread that builds the pool, before any other thread runs a crawl:
    setting and then removing it around the forkserver's start, in the thread that starts it,
    changed os.environ while Scrapy iterated it in another (its proxy middleware reads the
    environment when a crawl starts) — `KeyError: 'PYTHONSAFEPATH'`, and that poll failed."""
    os.environ.setdefault("PYTHONSAFEPATH", "1")


class ExtractionPool:
    """Runs `crawler.work.process_page` in worker processes; awaitable from the event loop."""

    def __init__(
        self, workers: int | None = None, *, recycle_after: int = 2000, timeout: float = DEFAULT_TIMEOUT
    ):
        self.workers = default_workers() if workers is None else workers
        self.recycle_after = recycle_after
        self.timeout = timeout
        self._executor: Executor | None = None
        if self.workers:
            keep_current_directory_out()
        self._submitted = 0
        self._lock = threading.Lock()
        self._closed = False

    def _ensure(self, cost: int = 1) -> Executor:
        with self._lock:
            return self._ensure_locked(cost)

    def _ensure_locked(self, cost: int = 1) -> Executor:
        if self._closed:
            raise PoolFailed("the worker pool is closed (the crawler is stopping)")
        if self._executor is not None and self._submitted >= self.recycle_after:
            retired, self._executor = self._executor, None
            retired.shutdown(wait=False)  # its queued tasks still complete
        if self._executor is None:
            self._submitted = 0
            if self.workers == 0:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="newswatch-extract")
            else:
                method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
                context = multiprocessing.get_context(method)
                if method == "forkserver":
                    start_forkserver(PRELOAD)
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=context, initializer=watch_parent, initargs=(os.getpid(),)
                )
        self._submitted += cost
        return self._executor

    def warm(self) -> None:
        """Start the workers now, in a background thread (starting them blocks for a while)."""

        def start() -> None:
            try:
                with self._lock:  # close() waits until the workers have started (see close)
                    if self._closed:
                        return
                    executor = self._ensure_locked()
                    for _ in range(max(1, self.workers)):
                        executor.submit(warm_up)
            except Exception:  # the first real page will report it
                log.exception("starting the extraction workers failed")

        threading.Thread(target=start, name="newswatch-pool-start", daemon=True).start()

    async def run(self, function: Callable[..., T], *args: Any, cost: int = 1) -> T:
        """Return `function(*args)` computed in a worker. Its own exceptions come back as they
        are; a crashed worker or a timeout raises PoolFailed (and the pool is rebuilt).
        `cost`: how many tasks this call counts as towards recycling (a batch: its size)."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            executor = self._ensure(cost)
            try:
                future = loop.run_in_executor(executor, function, *args)
                return await asyncio.wait_for(future, self.timeout)
            except BrokenProcessPool:
                self._discard(executor)
                if attempt == 2:
                    raise PoolFailed("a worker process crashed") from None
            except TimeoutError:
                self._discard(executor, kill=True)
                raise PoolFailed(f"took longer than {self.timeout:.0f}s") from None
        raise PoolFailed("a worker process crashed")  # pragma: no cover

    def batcher(self, many: Callable[[list[A]], list[Any]], size: int = 8) -> Batcher[A]:
        """Return a Batcher running `many(items)` in this pool (see the module docstring)."""
        return Batcher(self, many, size)

    async def process(self, html: str, url: str, feed_entry: FeedEntry | None) -> ProcessedPage:
        """Return the extracted page (extraction only, nothing stored)."""
        return await self.run(process_page, html, url, feed_entry)

    def _discard(self, executor: Executor, kill: bool = False) -> None:
        if self._executor is executor:
            self._executor = None
        if kill and isinstance(executor, ProcessPoolExecutor):
            for process in list(getattr(executor, "_processes", {}).values()):
                process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (waits for pages in progress). A stop during start-up waits until
        the workers being started have read their start-up data: shut down before that, the
        semaphores it names are gone and each worker prints a FileNotFoundError traceback."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


class Batcher(Generic[A]):
    """Submits items one by one; runs them in the pool in batches, `many(items)` per task.

    `many` returns one entry per item, in order: its result, or the exception it raised
    (which `submit` raises). At most `workers + 1` batches are in flight (one waiting per busy
    worker, so none idles between batches); the rest wait and form the next batches. A batch
    that fails as a whole (a crashed worker, the timeout) is retried item by item, so one
    hostile page fails alone.
    """

    def __init__(self, pool: ExtractionPool, many: Callable[[list[A]], list[Any]], size: int) -> None:
        self.pool = pool
        self.many = many
        self.size = max(1, size)
        self._waiting: collections.deque[tuple[A, asyncio.Future]] = collections.deque()
        self._in_flight = 0
        self._tasks: set[asyncio.Task] = set()  # the event loop keeps only weak references

    @property
    def max_in_flight(self) -> int:
        return max(1, self.pool.workers) + 1

    async def submit(self, item: A) -> Any:
        """Return the result of `item` (or raise its exception, or PoolFailed)."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._dispatch()
        return await future

    def _dispatch(self) -> None:
        while self._waiting and self._in_flight < self.max_in_flight:
            batch: list[tuple[A, asyncio.Future]] = []
            while self._waiting and len(batch) < self.size:
                item, future = self._waiting.popleft()
                if not future.done():  # else its caller was cancelled while it waited
                    batch.append((item, future))
            if not batch:
                return
            self._in_flight += 1
            task = asyncio.ensure_future(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[A, asyncio.Future]]) -> None:
        try:
            try:
                outcomes = await self.pool.run(self.many, [item for item, _ in batch], cost=len(batch))
            except PoolFailed as failure:
                if len(batch) == 1:
                    outcomes = [failure]
                else:  # find the culprit: each item on its own, one after the other (a crash
                    # breaks every task in the pool at that moment)
                    log.warning("a batch of %d failed (%s): retrying them one by one", len(batch), failure)
                    outcomes = [await self._alone(item) for item, _ in batch]
            except Exception as exc:  # noqa: BLE001 - `many` itself failed: every item fails with it
                outcomes = [exc] * len(batch)
            except BaseException:  # cancelled (the loop is closing): so are its callers
                for _, future in batch:
                    future.cancel()
                raise
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
        finally:
            self._in_flight -= 1
            self._dispatch()

    async def _alone(self, item: A) -> Any:
        """Return the outcome of `item` run as a batch of one (PoolFailed as an outcome too)."""
        try:
            (outcome,) = await self.pool.run(self.many, [item])
        except PoolFailed as failure:
            return failure
        return outcome
