"""The effective configuration: the config files plus what was made through the API.

Sources, rules and subscribers made through the API live in `managed_entities` (validated when
they were saved); the files are read-only through the API. `merge_config` joins both into one
`Config`, and it is the only place that does. Names are unique across both: the API refuses a
name the files use, and should a file later take a name the database holds, the file wins and
the stored entity is left out with a problem line (logged by the caller) — as is a stored rule
whose source, or a stored subscriber whose rule, no longer exists.

`config_revision` is a counter bumped in the transaction of every change (`bump_revision`):
the running service reads it every second and rebuilds what depends on the config when it moves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newswatch.core.config import Config, Rule, Source, Subscriber
from newswatch.core.errors import UserError
from newswatch.core.loading import NO_CHECKS, ConfigChecks
from newswatch.core.runtime_models import ConfigRevision, Installation, ManagedEntity

Kind = Literal["source", "rule", "subscriber"]
MODELS: dict[str, type[BaseModel]] = {"source": Source, "rule": Rule, "subscriber": Subscriber}
FILES: dict[str, str] = {"source": "sources.yaml", "rule": "rules.yaml", "subscriber": "subscribers.yaml"}
ATTRIBUTES: dict[str, str] = {"source": "sources", "rule": "rules", "subscriber": "subscribers"}


def load_managed(session: Session) -> list[ManagedEntity]:
    """Return every stored entity, in the order they were made."""
    return list(session.scalars(select(ManagedEntity).order_by(ManagedEntity.id)))


def config_revision(session: Session) -> int:
    """Return the counter of changes to the managed entities."""
    return session.scalar(select(ConfigRevision.value).where(ConfigRevision.id == 1)) or 0


def bump_revision(session: Session) -> None:
    """Count one change (call in the transaction that makes it)."""
    updated = session.execute(
        update(ConfigRevision).where(ConfigRevision.id == 1).values(value=ConfigRevision.value + 1)
    )
    if not updated.rowcount:
        session.add(ConfigRevision(id=1, value=1))


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


_secrets: dict[str, bytes] = {}


def installation_secret(session: Session) -> bytes:
    """Return this installation's secret key (read once per database and process)."""
    bind = session.get_bind().url.render_as_string(hide_password=False)
    found = _secrets.get(bind)
    if found is None:
        value = session.scalar(select(Installation.secret).where(Installation.id == 1))
        if value is None:  # a database from before migration 0007 that was not upgraded
            raise UserError("the database has no installation key: run `newswatch db upgrade`")
        found = _secrets[bind] = bytes.fromhex(value)
    return found
