"""Helpers for the multi-process tests (tests/test_cluster*.py) and the cluster benchmark:
`newswatch run --roles …` processes as subprocesses, what the database says about them, and
bounded waits that show every process's log when they time out.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from newswatch.core.db import normalise_database_url
from newswatch.demo.site import DemoArticle

REPO = Path(__file__).resolve().parent.parent


class Node:
    """One `newswatch run --roles ROLES` process, its output in a log file."""

    def __init__(
        self, name: str, roles: str, config_dir: Path, db_url: str, log_dir: Path, *extra: str
    ) -> None:
        self.name, self.roles = name, roles
        self.args = [
            sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", db_url, "run", "--roles", roles, *extra,
        ]  # fmt: skip
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Node:
        log = open(self.log_path, "a")  # closed with the process
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: the process and its extraction workers (they die with it) vanish at once."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def logs(nodes: list[Node]) -> str:
    return "\n".join(f"--- {n.name} ({n.roles}) ---\n{n.log_tail()}" for n in nodes)


def wait_until(condition: Callable[[], object], timeout: float, what: str, nodes: list[Node]) -> float:
    """Wait (bounded) until `condition()` is true; return the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs(nodes)}")


class Records:
    """Read-only queries on the deployment's database."""

    def __init__(self, db_url: str) -> None:
        self.engine = create_engine(normalise_database_url(db_url), poolclass=NullPool)

    def rows(self, sql: str, **params) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

    def leader_pid(self, within: float = 6.0) -> int | None:
        """The pid of the process that reported itself the active scheduler in the last seconds."""
        cutoff = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=within)
        found = self.rows(
            "SELECT pid FROM processes WHERE leader AND stopped_at IS NULL AND last_seen > :cutoff",
            cutoff=cutoff,
        )
        return found[0]["pid"] if len(found) == 1 else None

    def close(self) -> None:
        self.engine.dispose()


WORDS = (
    "budget committee orbit launch module crew cargo schedule review panel station engine test "
    "contract agency partner telemetry mission payload vehicle flight report analysis safety board "
    "propellant docking hatch solar array thermal shield software upgrade delay warning forecast"
).split()


def article(slug: str, title: str, lead: str, hours_ago: float = 0.0) -> DemoArticle:
    """A fixture article whose body is its own (words drawn from its slug), so two articles are
    never near duplicates of each other."""
    rng = random.Random(slug)
    body = [" ".join(rng.choice(WORDS) for _ in range(18)).capitalize() + "." for _ in range(8)]
    return DemoArticle(
        slug=slug,
        title=title,
        paragraphs=[lead, " ".join(body)],
        language="en",
        published=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours_ago),
        summary=lead[:120],
        author="Test Desk",
        related=["Roscosmos confirms ISS deorbit timeline"],
    )
