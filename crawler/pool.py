"""The extraction process pool: article extraction off the event loop, on every core.

Extraction (trafilatura, SimHash) is CPU-bound Python: run on the event loop it would stall
every download, and in threads it would share one core through the GIL. The pool's worker
processes are started by a forkserver that has already imported the extraction stack, and
each worker is replaced after `max_tasks_per_child` pages (bounded memory). A worker that
dies or a page that takes longer than `timeout` seconds fails that page only: the pool is
rebuilt and the crawl goes on.

`workers=0` runs extraction in a thread instead (for debugging and comparisons).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from crawler.extract import FeedEntry
from crawler.work import ProcessedPage, process_page, warm_up

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120.0


class ExtractionFailed(Exception):
    """A page the pool could not process (timeout, crashed worker, extractor error)."""


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class ExtractionPool:
    """Runs `crawler.work.process_page` in worker processes; awaitable from the event loop."""

    def __init__(
        self, workers: int | None = None, *, max_tasks_per_child: int = 500, timeout: float = DEFAULT_TIMEOUT
    ):
        self.workers = default_workers() if workers is None else workers
        self.max_tasks_per_child = max_tasks_per_child
        self.timeout = timeout
        self._executor: Executor | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> Executor:
        with self._lock:
            return self._ensure_locked()

    def _ensure_locked(self) -> Executor:
        if self._executor is None:
            if self.workers == 0:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="newswatch-extract")
            else:
                method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
                context = multiprocessing.get_context(method)
                if method == "forkserver":
                    context.set_forkserver_preload(["crawler.warmup"])
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=context, max_tasks_per_child=self.max_tasks_per_child
                )
        return self._executor

    def warm(self) -> None:
        """Start the workers now, in a background thread (starting them blocks for a while)."""

        def start() -> None:
            try:
                executor = self._ensure()
                for _ in range(max(1, self.workers)):
                    executor.submit(warm_up)
            except Exception:  # noqa: BLE001 - the first real page will report it
                log.exception("starting the extraction workers failed")

        threading.Thread(target=start, name="newswatch-pool-start", daemon=True).start()

    async def process(self, html: str, url: str, feed_entry: FeedEntry | None) -> ProcessedPage:
        """Return the processed page; ExtractionFailed when it cannot be processed."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            executor = self._ensure()
            try:
                future = loop.run_in_executor(executor, process_page, html, url, feed_entry)
                return await asyncio.wait_for(future, self.timeout)
            except BrokenProcessPool:
                self._discard(executor)
                if attempt == 2:
                    raise ExtractionFailed("extraction worker crashed") from None
            except TimeoutError:
                self._discard(executor, kill=True)
                raise ExtractionFailed(f"extraction took longer than {self.timeout:.0f}s") from None
            except Exception as exc:  # noqa: BLE001 - an extractor bug must not stop the crawl
                raise ExtractionFailed(f"extraction failed: {type(exc).__name__}: {exc}") from exc
        raise ExtractionFailed("extraction failed")  # pragma: no cover

    def _discard(self, executor: Executor, kill: bool = False) -> None:
        if self._executor is executor:
            self._executor = None
        if kill and isinstance(executor, ProcessPoolExecutor):
            for process in list(getattr(executor, "_processes", {}).values()):
                process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (waits for pages in progress)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
