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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from newswatch.core.config import (
    Config,
    Rule,
    Settings,
    Source,
    Subscriber,
    resolve_config_dir,
)
from newswatch.core.errors import ConfigError


def _no_problem(_value: str) -> str | None:
    return None


@dataclass(frozen=True)
class ConfigChecks:
    """What the stages check in a config value: each returns the problem in words, or None."""

    query: Callable[[str], str | None] = _no_problem
    notify_url: Callable[[str], str | None] = _no_problem
    source_url: Callable[[str, bool], str | None] = lambda _url, _allow_private: None


NO_CHECKS = ConfigChecks()


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: merged keys may be overridden
            continue
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
    loader = _UniqueKeyLoader(text)  # a SafeLoader subclass
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_YAML_NODES:
            raise ConfigError(
                str(path),
                f"YAML aliases expand to more than {MAX_YAML_NODES:,} values (an alias bomb?); refused",
            )
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = f", column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(str(path), f"YAML syntax error: {problem}{column}", line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"YAML syntax error: {exc}") from None
    finally:
        loader.dispose()


# A config file of thousands of sources is tens of thousands of values; aliases that expand
# past this are an attack (a "billion laughs" of nested anchors), not a configuration.
MAX_YAML_NODES = 200_000


def _expanded_size(root: yaml.Node) -> int:
    """Return how many values the document holds once every alias is expanded, counted without
    expanding (an alias is the same node object again): sizes are memoised per node, and a
    node that contains itself counts as unbounded."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if children_done:
            in_progress.discard(key)
            sizes[key] = min(MAX_YAML_NODES + 1, 1 + sum(sizes[id(c)] for c in children))
            continue
        if key in in_progress:
            return MAX_YAML_NODES + 1  # recursive anchor
        in_progress.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in in_progress:
                return MAX_YAML_NODES + 1
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


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


def load_rules(path: Path, checks: ConfigChecks = NO_CHECKS) -> list[Rule]:
    """Return the validated rules of one rules file (names unique, queries checked)."""
    raws = _entries(path, "rules")
    rules = [_build(Rule, path, "rules", i, raw) for i, raw in enumerate(raws)]
    _check_unique(rules, path, "rules")
    for index, rule in enumerate(rules):
        problem = checks.query(rule.query)
        if problem:
            raise ConfigError(str(path), problem, entry=f"rules[{index}] '{rule.name}'", field="query")
    return rules


def load_config(directory: str | os.PathLike[str] | None = None, checks: ConfigChecks = NO_CHECKS) -> Config:
    """Return the validated configuration in `directory` (resolved as the README says)."""
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
    for index, source in enumerate(sources):
        problem = checks.source_url(source.url, source.allow_private)
        if problem:
            raise ConfigError(str(sources_file), problem, entry=f"sources[{index}] '{source.name}'", field=source.kind)

    rules_file = root / "rules.yaml"
    rules = load_rules(rules_file, checks)
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
            problem = checks.notify_url(url)
            if problem:
                raise ConfigError(str(subscribers_file), problem, entry=label, field=f"notify[{position}]")
        if subscriber.template:
            template_path = root / subscriber.template
            allowed = [root.resolve()]
            if settings.templates:
                allowed.append((root / settings.templates).resolve())
            if not any(template_path.resolve().is_relative_to(folder) for folder in allowed):
                raise ConfigError(
                    str(subscribers_file),
                    f"template {subscriber.template!r} is outside the config directory"
                    + (" and the templates folder" if settings.templates else ""),
                    entry=label,
                    field="template",
                )
            if not template_path.is_file():
                raise ConfigError(
                    str(subscribers_file),
                    f"template file {subscriber.template!r} not found",
                    entry=label,
                    field="template",
                )

    return Config(directory=root, sources=sources, rules=rules, subscribers=subscribers, settings=settings)
