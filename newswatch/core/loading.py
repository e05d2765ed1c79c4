"""Loading the configuration: YAML files in one directory, validated into typed models.

Files: `sources.yaml`, `rules.yaml`, `subscribers.yaml` (required) and `settings.yaml`
(optional). `${VAR}` (or `${VAR:-default}`) in any string is replaced from the environment.

Every problem becomes a `ConfigError` whose text names the file, the entry (index and name)
and the field, and says what is wrong — one line, and never an Apprise secret. The checks that
need a stage (a query that must parse, a notify URL Apprise must know) are given by the caller
as `ConfigChecks`, so this base never imports a stage; the application object passes them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from newswatch.core.bulk import collector_paused
from newswatch.core.config import (
    Config,
    Rule,
    Settings,
    Source,
    Subscriber,
    resolve_config_dir,
)
from newswatch.core.errors import ConfigError, ConfigProblems
from newswatch.core.yaml_files import read_yaml


def _no_problem(_value: str) -> str | None:
    return None


def _no_example_problems(_query: str, _examples: Any) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True)
class ConfigChecks:
    """What the stages check in a config value: each returns the problem in words, or None."""

    query: Callable[[str], str | None] = _no_problem
    notify_url: Callable[[str], str | None] = _no_problem
    source_url: Callable[[str, bool], str | None] = lambda _url, _allow_private: None
    # A rule's examples: (field, why) for each that fails, e.g. ("examples.match[0]", "…").
    examples: Callable[[str, Any], list[tuple[str, str]]] = _no_example_problems
    # The parts of a notify URL to mask in every log line (Apprise knows each service's tokens).
    notify_secrets: Callable[[str], Sequence[str]] = lambda _url: ()


NO_CHECKS = ConfigChecks()


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


def _unique(
    entries: list[tuple[int, Any]], file: Path, key: str, problems: list[ConfigError]
) -> list[tuple[int, Any]]:
    """Return the entries whose names are not taken by an earlier entry; a repeat is a problem."""
    seen: dict[str, int] = {}
    kept = []
    for index, item in entries:
        if item.name in seen:
            problems.append(
                ConfigError(
                    str(file),
                    f"duplicate name (already used by {key}[{seen[item.name]}])",
                    entry=f"{key}[{index}] '{item.name}'",
                    field="name",
                )
            )
            continue
        seen[item.name] = index
        kept.append((index, item))
    return kept


def _load_entries(
    model: type[BaseModel], file: Path, key: str, problems: list[ConfigError]
) -> tuple[list[tuple[int, Any]], set[str] | None]:
    """Return (index, entry) for every valid entry of one file, and every name the file gives
    (valid or not, so that a broken entry is not reported again where it is referred to; None
    when the file itself could not be read, so that nothing is checked against it)."""
    try:
        raws = _entries(file, key)
    except ConfigError as exc:
        problems.append(exc)
        return [], None
    names = {raw["name"] for raw in raws if isinstance(raw, dict) and isinstance(raw.get("name"), str)}
    entries = []
    for index, raw in enumerate(raws):
        try:
            entries.append((index, _build(model, file, key, index, raw)))
        except ConfigError as exc:
            problems.append(exc)
    return _unique(entries, file, key, problems), names


def _raise_problems(problems: list[ConfigError]) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigProblems(problems)


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


def load_rules(path: Path, checks: ConfigChecks = NO_CHECKS) -> list[Rule]:
    """Return the validated rules of one rules file (names unique, queries checked)."""
    problems: list[ConfigError] = []
    with collector_paused():  # tens of thousands of rules: see newswatch.core.bulk
        rules, _names = _load_rules(path, checks, problems)
    _raise_problems(problems)
    return [rule for _, rule in rules]


def _load_rules(
    path: Path, checks: ConfigChecks, problems: list[ConfigError]
) -> tuple[list[tuple[int, Rule]], set[str] | None]:
    rules, names = _load_entries(Rule, path, "rules", problems)
    valid = []
    for index, rule in rules:
        label = f"rules[{index}] '{rule.name}'"
        problem = checks.query(rule.query)
        if problem:
            problems.append(ConfigError(str(path), problem, entry=label, field="query"))
            continue
        failing = checks.examples(rule.query, rule.examples) if rule.examples else []
        problems.extend(ConfigError(str(path), why, entry=label, field=field) for field, why in failing)
        if not failing:
            valid.append((index, rule))
    return valid, names


def load_config(directory: str | os.PathLike[str] | None = None, checks: ConfigChecks = NO_CHECKS) -> Config:
    """Return the validated configuration in `directory` (resolved as the README says).

    Every problem is found, not only the first: a `ConfigProblems` lists them, one line each."""
    root = resolve_config_dir(directory)
    if not root.is_dir():
        raise ConfigError(str(root), "config directory not found (use --config DIR or set NEWSWATCH_CONFIG)")
    problems: list[ConfigError] = []
    try:
        settings = load_settings(root)
    except ConfigError as exc:
        problems.append(exc)
        settings = Settings()

    sources_file = root / "sources.yaml"
    sources, source_names = _load_entries(Source, sources_file, "sources", problems)
    for index, source in sources:
        problem = checks.source_url(source.url, source.allow_private)
        if problem:
            label = f"sources[{index}] '{source.name}'"
            problems.append(ConfigError(str(sources_file), problem, entry=label, field=source.kind))

    rules_file = root / "rules.yaml"
    with collector_paused():  # tens of thousands of rules: see newswatch.core.bulk
        rules, rule_names = _load_rules(rules_file, checks, problems)
    for index, rule in rules:
        for name in rule.sources or []:
            if source_names is not None and name not in source_names:
                problems.append(
                    ConfigError(
                        str(rules_file),
                        f"no source named {name!r} in sources.yaml",
                        entry=f"rules[{index}] '{rule.name}'",
                        field="sources",
                    )
                )

    subscribers_file = root / "subscribers.yaml"
    subscribers, _names = _load_entries(Subscriber, subscribers_file, "subscribers", problems)
    for index, subscriber in subscribers:
        problems.extend(
            _subscriber_problems(subscriber, index, subscribers_file, rule_names, settings, checks)
        )

    _raise_problems(problems)
    return Config(
        directory=root,
        sources=[s for _, s in sources],
        rules=[r for _, r in rules],
        subscribers=[s for _, s in subscribers],
        settings=settings,
    )


def _subscriber_problems(
    subscriber: Subscriber,
    index: int,
    file: Path,
    rule_names: set[str] | None,
    settings: Settings,
    checks: ConfigChecks,
) -> list[ConfigError]:
    root = file.parent
    label = f"subscribers[{index}] '{subscriber.name}'"
    problems = []
    for name in subscriber.rules:
        if rule_names is not None and name not in rule_names:
            problems.append(
                ConfigError(str(file), f"no rule named {name!r} in rules.yaml", entry=label, field="rules")
            )
    for position, url in enumerate(subscriber.notify):
        problem = checks.notify_url(url)
        if problem:
            problems.append(ConfigError(str(file), problem, entry=label, field=f"notify[{position}]"))
    if subscriber.template:
        template_path = root / subscriber.template
        allowed = [root.resolve()]
        if settings.templates:
            allowed.append((root / settings.templates).resolve())
        if not any(template_path.resolve().is_relative_to(folder) for folder in allowed):
            where = "the config directory" + (" and the templates folder" if settings.templates else "")
            problems.append(
                ConfigError(
                    str(file),
                    f"template {subscriber.template!r} is outside {where}",
                    entry=label,
                    field="template",
                )
            )
        elif not template_path.is_file():
            problems.append(
                ConfigError(
                    str(file),
                    f"template file {subscriber.template!r} not found",
                    entry=label,
                    field="template",
                )
            )
    return problems
