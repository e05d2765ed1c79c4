"""The worker side of bench_engines: one no-op task per candidate engine, run by the engine's
own worker. Each task appends `started - enqueued` (seconds) as one line to $BENCH_ENGINE_OUT
(small O_APPEND writes are atomic, so concurrent tasks never interleave).

    procrastinate:  python -m bench.engine_workers procrastinate   ($BENCH_ENGINE_DB, $BENCH_ENGINE_CONCURRENCY)
    celery:         celery -A bench.engine_workers:celery_app worker -P threads -c N -Q Q
    dramatiq:       dramatiq bench.engine_workers --processes 1 --threads N --queues Q
"""

from __future__ import annotations

import asyncio
import os
import sys
import time


def record(enqueued: float) -> None:
    line = f"{time.time() - enqueued:.6f}\n".encode()
    fd = os.open(os.environ["BENCH_ENGINE_OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


QUEUE = os.environ.get("BENCH_ENGINE_QUEUE", "bench")

# ---------------------------------------------------------------------------- Celery (RabbitMQ)
try:
    from celery import Celery

    celery_app = Celery(
        "bench", broker=os.environ.get("BENCH_ENGINE_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
    )
    celery_app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=4, task_acks_late=True)

    @celery_app.task(name="bench.noop")
    def celery_noop(enqueued: float) -> None:
        record(enqueued)
except ImportError:  # the optional bench-engines extra is not installed
    celery_app = None

# ---------------------------------------------------------------------------- Dramatiq (Redis)
try:
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    dramatiq.set_broker(RedisBroker(url=os.environ.get("BENCH_ENGINE_REDIS", "redis://127.0.0.1:6379/0")))

    @dramatiq.actor(queue_name=QUEUE, max_retries=0)
    def dramatiq_noop(enqueued: float) -> None:
        record(enqueued)
except ImportError:
    dramatiq_noop = None

# ---------------------------------------------------------------------------- Procrastinate (PostgreSQL)
try:
    import procrastinate

    procrastinate_app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=os.environ.get("BENCH_ENGINE_DB", ""))
    )

    @procrastinate_app.task(name="bench.noop", queue=QUEUE)
    async def procrastinate_noop(enqueued: float) -> None:
        record(enqueued)
except ImportError:
    procrastinate_app = None


async def _run_procrastinate_worker() -> None:
    async with procrastinate_app.open_async():
        await procrastinate_app.run_worker_async(
            queues=[QUEUE],
            concurrency=int(os.environ.get("BENCH_ENGINE_CONCURRENCY", "4")),
            delete_jobs="successful",
            install_signal_handlers=True,
        )


if __name__ == "__main__" and sys.argv[1:] == ["procrastinate"]:
    asyncio.run(_run_procrastinate_worker())
