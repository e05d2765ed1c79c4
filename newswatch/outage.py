"""Database outages in the service's log: one line when the database becomes unreachable
(down, refusing connections, locked, out of disk) and one when it is back, instead of a
traceback from every job every few seconds. Nothing is lost meanwhile: polls fail before
fetching anything, matching and deliveries wait in the database for its return."""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger("newswatch.service")


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be used right now (rather than a bug)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class DatabaseOutage:
    """Tracks whether the database is reachable and says so once per change."""

    def __init__(self) -> None:
        self.since: float | None = None

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> bool:
        """Record `exc` if it means the database is unavailable; False for any other error."""
        if not is_database_unavailable(exc):
            return False
        if self.since is None:
            self.since = time.monotonic()
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
            log.warning("database unavailable, retrying in the background: %s", reason)
        return True

    def succeeded(self) -> None:
        if self.since is not None:
            log.warning("database available again after %.0fs", time.monotonic() - self.since)
            self.since = None
