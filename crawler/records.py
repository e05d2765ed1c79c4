"""What one poll of one source did: the counters behind `crawl_runs`, `newswatch crawl`'s
table and the service's health checks.

Every article page a poll fetches ends in exactly one bucket:
- `new`: stored as a new article that starts a new story;
- `duplicates`: the same article was already stored (found by its canonical URL, or the same
  text from the same source — nothing new is written but the URL variant), or it was stored
  as another outlet's copy of a story already known (exact or near duplicate: it joins that
  story, and `created` counts it);
- `errors`: it could not be fetched, was refused, or could not be extracted.

`fetched` counts the responses the spider saw (discovery pages including 304s, and article
pages); robots.txt, redirect hops and retried attempts are not counted. `known` counts
article URLs skipped without a fetch because they were already stored.

A poll *fails* when its discovery document (feed, sitemap or listing) could not be fetched or
parsed, or when it requested article pages and none of them was stored for a reason other
than a refusal by policy (SSRF guard, robots.txt, size limit): such a poll stored nothing of
what the feed announced. Some article errors beside stored articles do not fail it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from newswatch.core.logs import redact

MAX_ERROR_MESSAGES = 50


@dataclass
class CrawlSummary:
    """The outcome of one poll of one source."""

    source: str
    fetched: int
    not_modified: int
    new: int
    duplicates: int
    errors: int
    error_messages: list[str]
    started_at: datetime
    finished_at: datetime
    ok: bool = True  # False when the feed, sitemap or listing itself failed


DISCOVERY_PREFIX = "discovery: "


@dataclass
class PollRecord:
    """Counters of a poll in progress (owned by crawler.polls.PollRecorder; updated on the event loop)."""

    source: str
    started_at: datetime
    source_id: int | None = None
    run_id: int | None = None
    first_crawl: bool = False
    fetched: int = 0
    not_modified: int = 0
    new: int = 0
    duplicates: int = 0
    created: int = 0
    known: int = 0
    errors: int = 0
    error_messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    discovery_failed: bool = False
    transient_failures: int = 0
    refusals: int = 0
    article_requests: int = 0
    extract_ms: list[float] = field(default_factory=list)
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    finished_at: datetime | None = None

    def error(
        self, message: str, *, discovery: bool = False, transient: bool = False, refused: bool = False
    ) -> None:
        """Count one error; `discovery` marks the poll failed, `transient` keeps validators
        unsaved, `refused` marks a refusal by policy (it never fails the poll)."""
        self.errors += 1
        self.refusals += refused
        message = redact(message)  # it goes to crawl_runs, the source's row, status and alarms
        if discovery:
            self.discovery_failed = True
            message = DISCOVERY_PREFIX + message
        if transient:
            self.transient_failures += 1
        if len(self.error_messages) < MAX_ERROR_MESSAGES:
            self.error_messages.append(message)

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_ERROR_MESSAGES:
            self.warnings.append(redact(message))

    @property
    def nothing_stored(self) -> bool:
        """Article pages were requested, every one of them failed, and not only by refusals."""
        return (
            self.article_requests > 0
            and self.new + self.duplicates == 0
            and self.errors >= self.article_requests
            and self.refusals < self.errors
        )

    @property
    def ok(self) -> bool:
        return not self.discovery_failed and not self.nothing_stored

    def summary(self, finished_at: datetime) -> CrawlSummary:
        return CrawlSummary(
            source=self.source,
            fetched=self.fetched,
            not_modified=self.not_modified,
            new=self.new,
            duplicates=self.duplicates,
            errors=self.errors,
            error_messages=list(self.error_messages),
            started_at=self.started_at,
            finished_at=self.finished_at or finished_at,
            ok=self.ok,
        )

    def error_summary(self) -> str | None:
        """Return the errors and warnings as text for `crawl_runs.error_summary`, or None."""
        lines = list(self.error_messages) + [f"warning: {w}" for w in self.warnings]
        if self.errors > len(self.error_messages):
            lines.append(f"… and {self.errors - len(self.error_messages)} more errors")
        return "\n".join(lines)[:8000] or None
