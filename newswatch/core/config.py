"""Configuration models: sources, rules, subscribers, settings, and where they are found.

Resolution (README, "Configuration"): directory from `--config DIR`, else `$NEWSWATCH_CONFIG`, else `./config`;
database from `--db`, else `$NEWSWATCH_DATABASE_URL`, else `settings.yaml`, else SQLite in
`./var`. Reading the files is `newswatch.core.loading`; what a value means to a stage (does a
query parse, can Apprise use a URL) is the stage's to say, through `ConfigChecks`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from newswatch.core.schedules import (
    DigestSchedule,
    Schedule,
    parse_digest,
    parse_duration,
    parse_every,
)

DEFAULT_CONFIG_DIR = "config"
DEFAULT_DATABASE_URL = "sqlite:///var/newswatch.db"
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{value!r} is not an http(s) URL")
    if not parts.hostname:
        raise ValueError(f"{value!r} has no host")
    return value.strip()


class Source(_Strict):
    """A news source: exactly one of `feed`, `sitemap`, `listing` (with `links`)."""

    name: str = Field(pattern=NAME_PATTERN)
    feed: str | None = None
    sitemap: str | None = None
    listing: str | None = None
    links: str | None = None
    every: str = "10m"
    backfill: str = "24h"
    allow_private: bool = False
    enabled: bool = True
    max_articles: int = Field(default=200, ge=1, description="newest article URLs considered per poll")
    silent_after: str | None = None

    @field_validator("feed", "sitemap", "listing")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

    @field_validator("every")
    @classmethod
    def _check_every(cls, value: str) -> str:
        parse_every(value)
        return str(value)

    @field_validator("backfill", "silent_after")
    @classmethod
    def _check_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("links")
    @classmethod
    def _check_selector(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from cssselect import GenericTranslator, SelectorError

        try:
            GenericTranslator().css_to_xpath(value)
        except SelectorError as exc:
            raise ValueError(f"{value!r} is not a valid CSS selector ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        kinds = [k for k in ("feed", "sitemap", "listing") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("give exactly one of feed, sitemap or listing")
        if self.listing and not self.links:
            raise ValueError("a listing source needs 'links' (the CSS selector of article links)")
        if self.links and not self.listing:
            raise ValueError("'links' only applies to a listing source")
        return self

    @property
    def kind(self) -> Literal["feed", "sitemap", "listing"]:
        return "feed" if self.feed else "sitemap" if self.sitemap else "listing"

    @property
    def url(self) -> str:
        return self.feed or self.sitemap or self.listing or ""

    @property
    def schedule(self) -> Schedule:
        return parse_every(self.every)

    @property
    def backfill_window(self) -> timedelta:
        return parse_duration(self.backfill)


class RuleExample(_Strict):
    """An example article given with its fields apart (for rules scoped to a field)."""

    title: str = ""
    text: str = ""


class RuleExamples(_Strict):
    """Texts a rule must match and must not match (DESIGN.md "Rule examples"); a string is an
    article whose title and body are both that text."""

    match: list[str | RuleExample] = Field(default_factory=list)
    no_match: list[str | RuleExample] = Field(default_factory=list)


class Rule(_Strict):
    """A named query; optionally limited to some sources, with examples it must (not) match."""

    name: str = Field(pattern=NAME_PATTERN)
    query: str = Field(min_length=1)
    sources: list[str] | None = None
    enabled: bool = True
    examples: RuleExamples | None = None


class Subscriber(_Strict):
    """Who gets which rules' alerts, where, and how often."""

    name: str = Field(pattern=NAME_PATTERN)
    notify: list[str] = Field(min_length=1)
    rules: list[str] = Field(default_factory=list)
    digest: str | None = None
    admin: bool = False
    format: Literal["markdown", "html", "text"] | None = None
    template: str | None = None

    @field_validator("digest")
    @classmethod
    def _check_digest(cls, value: str | None) -> str | None:
        parse_digest(value)
        return value

    @model_validator(mode="after")
    def _has_purpose(self) -> Subscriber:
        if not self.rules and not self.admin:
            raise ValueError("a subscriber needs 'rules' (or admin: true for source-health alarms only)")
        return self

    @property
    def digest_schedule(self) -> DigestSchedule | None:
        return parse_digest(self.digest)


def _valid_duration(value: str) -> str:
    parse_duration(value)
    return value


def _valid_size(value: str) -> str:
    parse_size(value)
    return value


Duration = Annotated[str, AfterValidator(_valid_duration)]  # "30s", "10m", "1h30m", "7d"
Size = Annotated[str, AfterValidator(_valid_size)]  # "5MB", "512KB"


class DeliverySettings(_Strict):
    """How the dispatcher retries: exponential backoff with jitter, capped, then gives up."""

    max_attempts: int = Field(default=8, ge=1)
    backoff_initial: Duration = "30s"
    backoff_max: Duration = "1h"
    lease: Duration = "2m"
    timeout: Duration = "30s"


class HealthSettings(_Strict):
    """When a source's trouble becomes an alarm for admin subscribers."""

    failures_alarm: int = Field(default=3, ge=1)
    silent_after: Duration = "48h"


class RetentionSettings(_Strict):
    """What is kept how long: article text forever, the raw HTML for `raw_html`."""

    raw_html: Duration = "7d"


class CrawlSettings(_Strict):
    """Crawler politeness and limits shared by every source."""

    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch/newswatch; self-hosted news monitor)"
    concurrent_per_domain: int = Field(default=2, ge=1, le=16)
    download_timeout: Duration = "30s"
    max_page_size: Size = "5MB"
    obey_robots: bool = True


class ClusterSettings(_Strict):
    """A deployment of several processes (`newswatch run --roles …`, PostgreSQL only).

    `broker_url` is for an engine that needs a broker; the engine newswatch uses (Procrastinate)
    keeps its jobs in the database, so it is accepted and not needed ($NEWSWATCH_BROKER_URL too)."""

    broker_url: str | None = None
    crawl_concurrency: int = Field(default=16, ge=1, le=512)  # polls at once per crawl process


class WebSettings(_Strict):
    """The web interface and HTTP API that `newswatch run` and `newswatch web` serve."""

    listen: str = "127.0.0.1:8470"


class Settings(_Strict):
    """`settings.yaml`: service-wide options, all optional."""

    database_url: str | None = None
    crawl: CrawlSettings = CrawlSettings()
    delivery: DeliverySettings = DeliverySettings()
    health: HealthSettings = HealthSettings()
    retention: RetentionSettings = RetentionSettings()
    web: WebSettings = WebSettings()
    templates: str | None = None
    cluster: ClusterSettings = ClusterSettings()


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?i?b?)\s*$", re.IGNORECASE)


MAX_SIZE = 1024**3  # no news page is larger; bigger values only overflow the downloader


def parse_size(text: str | int) -> int:
    """Return bytes for '5MB', '512k', '1GiB' or a plain integer."""
    if isinstance(text, int):
        size = text
    else:
        m = _SIZE.match(str(text))
        if not m:
            raise ValueError(f"cannot parse {text!r} as a size (use e.g. 5MB, 512KB)")
        unit = m.group(2).lower().rstrip("b").rstrip("i")
        size = int(float(m.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit])
    if size > MAX_SIZE:
        raise ValueError(f"size {text!r} is larger than the maximum of 1GB")
    return size


@dataclass
class Config:
    """The whole validated configuration of one deployment."""

    directory: Path
    sources: list[Source] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    subscribers: list[Subscriber] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)

    def rule(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def subscriber(self, name: str) -> Subscriber:
        for subscriber in self.subscribers:
            if subscriber.name == name:
                return subscriber
        raise KeyError(name)


# ---------------------------------------------------------------------------- resolution


def resolve_config_dir(option: str | os.PathLike[str] | None) -> Path:
    """Return the config directory: option, else $NEWSWATCH_CONFIG, else ./config."""
    return Path(option or os.environ.get("NEWSWATCH_CONFIG") or DEFAULT_CONFIG_DIR)


def resolve_database_url(option: str | None, settings: Settings | None) -> str:
    """Return the database URL: option, else $NEWSWATCH_DATABASE_URL, else settings, else SQLite."""
    return (
        option
        or os.environ.get("NEWSWATCH_DATABASE_URL")
        or (settings.database_url if settings else None)
        or DEFAULT_DATABASE_URL
    )
