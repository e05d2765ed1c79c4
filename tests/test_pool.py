"""The worker pool (crawler/pool.py): recycled without deadlock, rebuilt after a crash, and
never outliving a crawling process that was killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from crawler.pool import ExtractionPool, PoolFailed

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parent.parent


def test_recycled_pool_keeps_answering() -> None:
    pool = ExtractionPool(1, recycle_after=3)

    async def run() -> list[int]:
        return list(await asyncio.gather(*(pool.run(abs, -i) for i in range(20))))

    try:
        assert asyncio.run(asyncio.wait_for(run(), 60)) == list(range(20))
    finally:
        pool.close()


def test_a_crashed_worker_fails_one_task_and_the_pool_recovers() -> None:
    pool = ExtractionPool(1)

    async def run():
        with pytest.raises(PoolFailed):
            await pool.run(os._exit, 3)
        return await pool.run(abs, -5)

    try:
        assert asyncio.run(asyncio.wait_for(run(), 60)) == 5
    finally:
        pool.close()


def _children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_workers_exit_when_the_crawling_process_is_killed(tmp_path) -> None:
    script = tmp_path / "crawler_process.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, os, sys
            from crawler.pool import ExtractionPool

            async def main():
                pool = ExtractionPool(2)
                pids = await asyncio.gather(*(pool.run(os.getpid) for _ in range(4)))
                print(" ".join(str(p) for p in sorted(set(pids))), flush=True)
                await asyncio.sleep(600)

            if __name__ == "__main__":
                asyncio.run(main())
            """
        )
    )
    process = subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in process.stdout.readline().split()]
        assert workers
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
            time.sleep(0.2)
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "workers outlived their crawler"
    finally:
        if process.poll() is None:
            process.kill()


def test_pages_that_wait_for_busy_workers_leave_together() -> None:
    from pool_helpers import negate_each

    pool = ExtractionPool(1)
    batcher = pool.batcher(negate_each, size=4)

    async def run():
        return await asyncio.gather(*(batcher.submit(i) for i in range(1, 11)), return_exceptions=True)

    try:
        outcomes = asyncio.run(asyncio.wait_for(run(), 60))
    finally:
        pool.close()
    assert [value for value, _ in outcomes] == [-i for i in range(1, 11)]
    sizes = [size for _, size in outcomes]
    assert sizes[0] == 1  # the first found the worker free and left at once
    assert max(sizes) == 4 and sum(1 for s in sizes if s > 1) >= 6


def test_a_failing_page_fails_alone_and_a_crash_costs_only_its_page() -> None:
    from pool_helpers import negate_each

    pool = ExtractionPool(1)
    batcher = pool.batcher(negate_each, size=8)

    async def run():
        items = [1, 2, "boom", 3, "crash", 4, 5]
        return await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True)

    try:
        outcomes = asyncio.run(asyncio.wait_for(run(), 60))
    finally:
        pool.close()
    values = [o if isinstance(o, Exception) else o[0] for o in outcomes]
    assert values[:2] + values[3:4] + values[5:] == [-1, -2, -3, -4, -5]
    assert isinstance(values[2], ValueError) and isinstance(values[4], PoolFailed)


def test_starting_the_workers_leaves_the_environment_alone_while_a_crawl_reads_it() -> None:
    """Scrapy reads os.environ when a crawl starts (its proxy middleware), in the service's
    thread, while the workers start in another: that start must not change the environment
    (it once set and removed PYTHONSAFEPATH there, and a poll failed with a KeyError)."""
    pool = ExtractionPool(workers=1)
    try:
        before = dict(os.environ)
        assert before.get("PYTHONSAFEPATH") == "1", "set when the pool is built, for good"
        pool.warm()
        deadline = time.monotonic() + 60
        readings = 0
        while time.monotonic() < deadline and (pool._executor is None or readings < 1000):
            assert dict(os.environ.items()) == before
            readings += 1
        assert pool._executor is not None, "the workers did not start within 60 s"
        assert dict(os.environ) == before
    finally:
        pool.close()
