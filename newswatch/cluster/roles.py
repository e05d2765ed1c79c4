"""The roles of `newswatch run --roles`: which stages of the service run in this process.

    scheduler  enqueues polls on their schedules (only the elected one of several is active),
               closes digests, raises health alarms, recovers abandoned polls
    crawl      runs polls taken from the engine's queue (one Scrapy reactor per process)
    match      matches new articles and writes alerts and deliveries
    deliver    sends due deliveries (the dispatcher, under its leases)
    web        the web interface and API (served by newswatch.web where it is installed)

No `--roles` means every role in one process: the single-process service, on SQLite or
PostgreSQL. A subset needs PostgreSQL, which the processes share.
"""

from __future__ import annotations

from newswatch.core.errors import UserError

ROLES = ("scheduler", "crawl", "match", "deliver", "web")
ALL_ROLES = frozenset(ROLES)


def parse_roles(text: str) -> frozenset[str]:
    """Return the roles named in `text` ("crawl,match"); a UserError names an unknown one."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise UserError(f"--roles: name at least one role of {', '.join(ROLES)}")
    unknown = [name for name in names if name not in ALL_ROLES]
    if unknown:
        raise UserError(f"--roles: unknown role {unknown[0]!r}; the roles are {', '.join(ROLES)}")
    return frozenset(names)


def format_roles(roles: frozenset[str]) -> str:
    """Return the roles in their canonical order, comma-separated."""
    return ",".join(role for role in ROLES if role in roles)
