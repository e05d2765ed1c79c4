"""What every request handler shares: the application object, the config files' current
config (the service swaps it on SIGHUP), the one-time set-up token and the login limiter."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from newswatch.app import CONFIG_CHECKS, App
from newswatch.core.config import Config
from newswatch.core.entity_store import load_managed
from newswatch.core.managed import merge_config
from newswatch.core.runtime_models import User

DEFAULT_LISTEN = "127.0.0.1:8470"
MAX_BODY_BYTES = 1024 * 1024  # rules, subscribers and OPML files are far smaller


class LoginLimiter:
    """At most `attempts` failed logins per (address, name) and 4x that per address in
    `window` seconds; further attempts are refused until old failures age out."""

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] < now - self.window:
            times.popleft()
        return times

    def retry_after(self, address: str, name: str) -> int | None:
        """Return seconds to wait when this attempt must be refused, else None."""
        now = time.monotonic()
        with self._lock:
            for key, most in (((address, name), self.attempts), ((address, ""), self.attempts * 4)):
                times = self._recent(key, now)
                if len(times) >= most:
                    return int(times[0] + self.window - now) + 1
        return None

    def failed(self, address: str, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent((address, name), now).append(now)
            self._recent((address, ""), now).append(now)

    def succeeded(self, address: str, name: str) -> None:
        with self._lock:
            self._failures.pop((address, name), None)


@dataclass
class WebContext:
    """One web application's shared state (built by `newswatch run` or `newswatch web`)."""

    app: App
    file_config: Callable[[], Config]
    listen: str = DEFAULT_LISTEN
    max_body: int = MAX_BODY_BYTES
    setup_token: str | None = None
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    poll_now: Callable[[str], None] | None = None  # set by the service that serves the interface

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self.app.sessions()
        try:
            yield session
        finally:
            session.close()

    def effective_config(self, session: Session) -> Config:
        """Return the config files plus the stored entities, as the service runs them."""
        config, _problems = merge_config(self.file_config(), load_managed(session), CONFIG_CHECKS)
        return config

    def base_url(self) -> str:
        host, _, port = self.listen.rpartition(":")
        host = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host in ("::", "[::]") else host
        return f"http://{host}:{port}"

    def offer_setup(self, session: Session) -> str | None:
        """Return the one-time set-up URL when no account exists yet (and remember its token)."""
        if session.scalar(select(User.id).limit(1)) is not None:
            self.setup_token = None
            return None
        self.setup_token = self.setup_token or secrets.token_urlsafe(24)
        return f"{self.base_url()}/setup?token={self.setup_token}"
