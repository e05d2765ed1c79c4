"""The effective configuration: the config files plus what was made through the API.

Sources, rules and subscribers made through the API live in `managed_entities` (validated when
they were saved); the files are read-only through the API. `merge_config` joins both into one
`Config`, and it is the only place that does. Names are unique across both: the API refuses a
name the files use, and should a file later take a name the database holds, the file wins and
the stored entity is left out with a problem line (logged by the caller) — as is a stored rule
whose source, or a stored subscriber whose rule, no longer exists.

Reading and writing them is `core.entity_store`'s part; this module needs no database, so
`newswatch check` loads no SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from newswatch.core.config import Config, Rule, Source, Subscriber
from newswatch.core.loading import NO_CHECKS, ConfigChecks

if TYPE_CHECKING:  # the ORM class: this module itself never touches the database
    from newswatch.core.runtime_models import ManagedEntity

Kind = Literal["source", "rule", "subscriber"]
MODELS: dict[str, type[BaseModel]] = {"source": Source, "rule": Rule, "subscriber": Subscriber}
FILES: dict[str, str] = {"source": "sources.yaml", "rule": "rules.yaml", "subscriber": "subscribers.yaml"}
ATTRIBUTES: dict[str, str] = {"source": "sources", "rule": "rules", "subscriber": "subscribers"}


def build_entity(kind: str, body: dict[str, Any]) -> Any:
    """Return the config model for a stored body (raises pydantic's ValidationError)."""
    return MODELS[kind].model_validate(body)


def merge_config(
    file_config: Config, managed: Iterable[ManagedEntity], checks: ConfigChecks = NO_CHECKS
) -> tuple[Config, list[str]]:
    """Return the config files' config with the stored entities added, and one line for each
    stored entity left out (and why)."""
    problems: list[str] = []
    added: dict[str, list[Any]] = {"source": [], "rule": [], "subscriber": []}
    taken = {kind: {e.name for e in getattr(file_config, ATTRIBUTES[kind])} for kind in MODELS}
    for row in managed:
        if row.kind not in MODELS:
            continue
        label = f"{row.kind} {row.name!r} (made through the API)"
        if row.name in taken[row.kind]:
            problems.append(f"{label} is left out: {FILES[row.kind]} defines the same name")
            continue
        try:
            entity = build_entity(row.kind, row.body)
        except ValidationError as exc:
            problems.append(f"{label} is left out: {exc.errors()[0].get('msg', 'invalid')}")
            continue
        taken[row.kind].add(row.name)
        added[row.kind].append(entity)
    sources = [*file_config.sources, *added["source"]]
    source_names = {s.name for s in sources}
    rules = list(file_config.rules)
    for rule in added["rule"]:
        missing = [name for name in rule.sources or [] if name not in source_names]
        problem = checks.query(rule.query)
        if missing or problem:
            why = problem or f"no source named {missing[0]!r}"
            problems.append(f"rule {rule.name!r} (made through the API) is left out: {why}")
            continue
        rules.append(rule)
    rule_names = {r.name for r in rules}
    subscribers = list(file_config.subscribers)
    for subscriber in added["subscriber"]:
        missing = [name for name in subscriber.rules if name not in rule_names]
        if missing:
            problems.append(
                f"subscriber {subscriber.name!r} (made through the API) is left out: "
                f"no rule named {missing[0]!r}"
            )
            continue
        subscribers.append(subscriber)
    merged = replace(file_config, sources=sources, rules=rules, subscribers=subscribers)
    return merged, problems
