"""Exactly one active scheduler: a PostgreSQL session-level advisory lock on its own connection.

Every process with the `scheduler` role tries `pg_try_advisory_lock` every CHECK_EVERY
seconds; the one that holds it schedules, the others wait. The lock belongs to the database
session, so it is released the moment that session ends: when the scheduler's process exits
or is killed (its socket closes), and, if its machine vanishes, when TCP keepalive gives up
(KEEPALIVES: ~11 s). Another process takes over at its next try — well within 30 s.

The holder checks its connection at every turn: a holder that can no longer reach the
database stops scheduling at once (`on_lost`), since the database may already have handed
the lock to another process. Two schedulers for a moment would only enqueue a poll twice,
which the engine's queueing lock turns into one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg

from newswatch.cluster.engine import KEEPALIVES

log = logging.getLogger("newswatch.cluster")

LEADER_LOCK_KEY = 7_316_527
CHECK_EVERY = 2.0  # seconds between tries / checks
CHECK_TIMEOUT = 5.0  # a check slower than this counts as a lost connection


class LeaderElection:
    """Run `elect()` as a task; `on_won` / `on_lost` are called on the loop as it changes."""

    def __init__(
        self,
        dsn: str,
        on_won: Callable[[], Awaitable[None]],
        on_lost: Callable[[], Awaitable[None]],
    ) -> None:
        self.dsn = dsn
        self.on_won = on_won
        self.on_lost = on_lost
        self.leader = False
        self._conn: psycopg.AsyncConnection | None = None

    async def elect(self) -> None:
        """Try for (or keep) the lock until cancelled."""
        try:
            while True:
                try:
                    await asyncio.wait_for(self._turn(), timeout=CHECK_TIMEOUT)
                except (psycopg.Error, OSError, TimeoutError) as exc:
                    await self._drop(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                await asyncio.sleep(CHECK_EVERY)
        finally:
            await self._drop(None)

    async def _turn(self) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, **KEEPALIVES)
        if self.leader:
            await self._conn.execute("SELECT 1")
            return
        cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,))
        row = await cursor.fetchone()
        if row and row[0]:
            self.leader = True
            log.info("this process is now the active scheduler")
            await self.on_won()

    async def _drop(self, reason: str | None) -> None:
        """Close the connection (which releases the lock) and stop scheduling if we held it."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except (psycopg.Error, OSError):
                pass
        if self.leader:
            self.leader = False
            if reason is not None:
                log.warning("lost the scheduler lock (%s): scheduling stops here", reason)
            await self.on_lost()
