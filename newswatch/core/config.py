"""Configuration: YAML files in one directory, validated into typed models.

Resolution (DESIGN): directory from `--config DIR`, else `$NEWSWATCH_CONFIG`, else `./config`.
Files: `sources.yaml`, `rules.yaml`, `subscribers.yaml` (required) and `settings.yaml`
(optional). `${VAR}` (or `${VAR:-default}`) in any string is replaced from the environment.

Every problem becomes a `ConfigError` whose text names the file, the entry (index and name)
and the field, and says what is wrong — one line, and never an Apprise secret.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from newswatch.core.errors import ConfigError
from newswatch.core.schedules import (
    DigestSchedule,
    Schedule,
    parse_digest,
    parse_duration,
    parse_every,
)

DEFAULT_CONFIG_DIR = "config"
DEFAULT_DATABASE_URL = "sqlite:///var/newswatch.core.db"
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


class Rule(_Strict):
    """A named query; optionally limited to some sources."""

    name: str = Field(pattern=NAME_PATTERN)
    query: str = Field(min_length=1)
    sources: list[str] | None = None
    enabled: bool = True


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


class Settings(_Strict):
    """`settings.yaml`: service-wide options, all optional."""

    database_url: str | None = None
    crawl: CrawlSettings = CrawlSettings()
    delivery: DeliverySettings = DeliverySettings()
    health: HealthSettings = HealthSettings()
    retention: RetentionSettings = RetentionSettings()
    templates: str | None = None


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Return bytes for '5MB', '512k', '1GiB' or a plain integer."""
    if isinstance(text, int):
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"cannot parse {text!r} as a size (use e.g. 5MB, 512KB)")
    unit = m.group(2).lower().rstrip("b").rstrip("i")
    return int(float(m.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit])


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


# ---------------------------------------------------------------------------- loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    """Return the parsed YAML document at `path`; syntax errors become one-line ConfigErrors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = f", column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(str(path), f"YAML syntax error: {problem}{column}", line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"YAML syntax error: {exc}") from None


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute_env(value: Any, file: str, where: list[Any] | None = None, env: dict | None = None) -> Any:
    """Return `value` with ${VAR} / ${VAR:-default} replaced in every string."""
    env = os.environ if env is None else env
    where = where or []
    if isinstance(value, str):

        def replace(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(file, f"environment variable {name} is not set", entry=_path_text(where))

        return _ENV_REF.sub(replace, value)
    if isinstance(value, list):
        return [substitute_env(v, file, [*where, i], env) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: substitute_env(v, file, [*where, k], env) for k, v in value.items()}
    return value


def _path_text(where: list[Any]) -> str | None:
    if not where:
        return None
    out = str(where[0])
    for part in where[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _entries(path: Path, key: str) -> list[dict]:
    """Return the list under the file's top-level `key`, checked for shape."""
    data = read_yaml(path)
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ConfigError(str(path), f"expected a mapping with a '{key}:' list at the top")
    unknown = sorted(set(data) - {key})
    if unknown:
        raise ConfigError(str(path), f"unknown top-level key {unknown[0]!r} (expected '{key}')")
    items = data.get(key) or []
    if not isinstance(items, list):
        raise ConfigError(str(path), f"'{key}' must be a list", entry=key)
    return substitute_env(items, str(path), [key])


def _entry_label(key: str, index: int, raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"{key}[{index}] '{name}'" if isinstance(name, str) else f"{key}[{index}]"


def _validation_message(error: dict) -> tuple[str | None, str]:
    """Return (field, message) for one pydantic error, in words for a person."""
    loc = [str(p) for p in error.get("loc", ()) if not str(p).startswith("function-")]
    field_name = ".".join(loc) or None
    kind = error.get("type", "")
    msg = str(error.get("msg", "invalid"))
    if kind == "extra_forbidden":
        return field_name, "unknown key"
    if kind == "missing":
        return field_name, "required but missing"
    if kind == "string_pattern_mismatch":
        return (
            field_name,
            f"{error.get('input')!r} must use only a-z, 0-9 and '-' (and start with a letter or digit)",
        )
    msg = msg.removeprefix("Value error, ")
    return field_name, msg


def _build(model: type[BaseModel], file: Path, key: str, index: int, raw: Any) -> Any:
    label = _entry_label(key, index, raw)
    if not isinstance(raw, dict):
        raise ConfigError(str(file), "each entry must be a mapping of keys to values", entry=label)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_name, message = _validation_message(first)
        if field_name == "notify" or (field_name or "").startswith("notify."):
            message = "invalid notification URL list"
        raise ConfigError(str(file), message, entry=label, field=field_name) from None


def _check_unique(items: list[Any], file: Path, key: str) -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.name in seen:
            raise ConfigError(
                str(file),
                f"duplicate name (already used by {key}[{seen[item.name]}])",
                entry=f"{key}[{index}] '{item.name}'",
                field="name",
            )
        seen[item.name] = index


def load_settings(directory: Path) -> Settings:
    """Return settings.yaml's settings, or the defaults when the file does not exist."""
    path = directory / "settings.yaml"
    if not path.exists():
        return Settings()
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "expected a mapping of settings")
    data = substitute_env(data, str(path))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        field_name, message = _validation_message(exc.errors()[0])
        raise ConfigError(str(path), message, field=field_name) from None


def load_rules(path: Path) -> list[Rule]:
    """Return the validated rules of one rules file (queries parsed, names unique)."""
    raws = _entries(path, "rules")
    rules = [_build(Rule, path, "rules", i, raw) for i, raw in enumerate(raws)]
    _check_unique(rules, path, "rules")
    for index, rule in enumerate(rules):
        _check_query(rule, path, index)
    return rules


def _check_query(rule: Rule, path: Path, index: int) -> None:
    from alerts.rules.query import QuerySyntaxError, parse_query

    try:
        parse_query(rule.query)
    except QuerySyntaxError as exc:
        raise ConfigError(
            str(path), exc.describe(), entry=f"rules[{index}] '{rule.name}'", field="query"
        ) from None


def load_config(directory: str | os.PathLike[str] | None = None) -> Config:
    """Return the validated configuration in `directory` (resolved as DESIGN says)."""
    root = resolve_config_dir(directory)
    if not root.is_dir():
        raise ConfigError(str(root), "config directory not found (use --config DIR or set NEWSWATCH_CONFIG)")
    settings = load_settings(root)

    sources_file = root / "sources.yaml"
    sources = [
        _build(Source, sources_file, "sources", i, raw)
        for i, raw in enumerate(_entries(sources_file, "sources"))
    ]
    _check_unique(sources, sources_file, "sources")

    rules_file = root / "rules.yaml"
    rules = load_rules(rules_file)
    source_names = {s.name for s in sources}
    for index, rule in enumerate(rules):
        for name in rule.sources or []:
            if name not in source_names:
                raise ConfigError(
                    str(rules_file),
                    f"no source named {name!r} in sources.yaml",
                    entry=f"rules[{index}] '{rule.name}'",
                    field="sources",
                )

    subscribers_file = root / "subscribers.yaml"
    subscribers = [
        _build(Subscriber, subscribers_file, "subscribers", i, raw)
        for i, raw in enumerate(_entries(subscribers_file, "subscribers"))
    ]
    _check_unique(subscribers, subscribers_file, "subscribers")
    rule_names = {r.name for r in rules}
    for index, subscriber in enumerate(subscribers):
        label = f"subscribers[{index}] '{subscriber.name}'"
        for name in subscriber.rules:
            if name not in rule_names:
                raise ConfigError(
                    str(subscribers_file), f"no rule named {name!r} in rules.yaml", entry=label, field="rules"
                )
        for position, url in enumerate(subscriber.notify):
            problem = apprise_url_problem(url)
            if problem:
                raise ConfigError(str(subscribers_file), problem, entry=label, field=f"notify[{position}]")
        if subscriber.template:
            template_path = root / subscriber.template
            if not template_path.is_file():
                raise ConfigError(
                    str(subscribers_file),
                    f"template file {subscriber.template!r} not found",
                    entry=label,
                    field="template",
                )

    return Config(directory=root, sources=sources, rules=rules, subscribers=subscribers, settings=settings)


def apprise_url_problem(url: str) -> str | None:
    """Return why Apprise cannot use `url` (secrets redacted), or None when it can."""

    from alerts.delivery.console import register_console_plugin

    register_console_plugin()
    if not isinstance(url, str) or "://" not in url:
        return "not a notification URL (expected scheme://…, e.g. mailto://, json://, tgram://, console://)"
    scheme = url.split("://", 1)[0]
    if quiet_apprise_instantiate(url) is None:
        return f"'{scheme}://…' is not a notification URL Apprise recognises (check the scheme and its required parts)"
    return None


def quiet_apprise_instantiate(url: str) -> Any:
    """Return Apprise's plugin object for `url`, or None; Apprise's own log lines (which quote
    the whole URL, secrets included) are suppressed."""
    import logging

    import apprise

    logger = logging.getLogger("apprise")
    previous = logger.disabled
    logger.disabled = True
    try:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    finally:
        logger.disabled = previous
