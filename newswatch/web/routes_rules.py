"""`/api/v1/rules`: list, create, read, change, delete; try a draft (`test`) and an edit (`diff`).

A rule that does not parse is a 422 with `field: "query"` and the `column`; a failing example a
422 with `field: "examples"`; in both cases nothing is saved. Users see the config files'
rules (read-only) and their own; admins see all.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from alerts.rules.examples import examples_problem
from alerts.rules.trial import diff_queries, try_query
from newswatch.core.config import Config, Rule
from newswatch.core.errors import UserError
from newswatch.web.auth import Principal, current_user, get_session
from newswatch.web.common import checked_query, feed_url, hit_json, iso, since_cutoff
from newswatch.web.entities import Entities, Entity, merged_fields, validated
from newswatch.web.errors import ApiError

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])


class ExamplesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    match: list[str] = Field(default_factory=list)
    no_match: list[str] = Field(default_factory=list)


class RuleIn(BaseModel):
    """A new rule (DESIGN 'Query language' for `query`)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    query: str = Field(max_length=10_000)
    sources: list[str] | None = None
    enabled: bool = True
    examples: ExamplesIn | None = None


class RulePatch(BaseModel):
    """The fields to change; the others stay."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    query: str | None = Field(default=None, max_length=10_000)
    sources: list[str] | None = None
    enabled: bool | None = None
    examples: ExamplesIn | None = None


class TrialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(max_length=10_000)
    since: str = "30d"
    source: str | None = None
    samples: int = Field(default=10, ge=0, le=200)


class DiffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(max_length=10_000)
    since: str = "30d"
    source: str | None = None


def _context(request: Request):
    return request.app.state.context


def _rules(request: Request, session: Session, principal: Principal) -> Entities:
    return Entities(session, _context(request), principal, "rule")


def check_rule(fields: dict[str, Any], config: Config) -> Rule:
    """Return the rule, or a 422 naming what is wrong (query column, failing example, source)."""
    if isinstance(fields.get("query"), str):
        checked_query(fields["query"])
    rule = validated("rule", fields)
    failing = examples_problem(rule.query, rule.examples)
    if failing:
        raise ApiError(422, f"{failing[0]}: {failing[1]}", "examples")
    known = {s.name for s in config.sources}
    for name in rule.sources or []:
        if name not in known:
            raise ApiError(422, f"sources: no source named {name!r}", "sources")
    return rule


def rule_json(request: Request, session: Session, entity: Entity) -> dict[str, Any]:
    rule: Rule = entity.model
    row = entity.row
    return {
        "name": rule.name,
        "query": rule.query,
        "sources": rule.sources,
        "enabled": rule.enabled,
        "examples": rule.examples.model_dump() if rule.examples else None,
        "origin": entity.origin,
        "file": entity.file,
        "owner": entity.owner,
        "created_at": iso(row.created_at) if row else None,
        "updated_at": iso(row.updated_at) if row else None,
        "feed_url": feed_url(request, session, "rule", rule.name),
    }


@router.get("")
def list_rules(
    request: Request, session: Session = Depends(get_session), principal: Principal = Depends(current_user)
) -> list[dict[str, Any]]:
    return [rule_json(request, session, e) for e in _rules(request, session, principal).all()]


@router.post("", status_code=201)
def create_rule(
    body: RuleIn,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> dict[str, Any]:
    rules = _rules(request, session, principal)
    rule = check_rule(body.model_dump(exclude_unset=True), rules.config)
    return rule_json(request, session, rules.create(rule))


@router.post("/test")
def test_rule(
    body: TrialIn, session: Session = Depends(get_session), principal: Principal = Depends(current_user)
) -> dict[str, Any]:
    """What `newswatch rules test` shows: matches over the archive, per day, newest samples."""
    checked_query(body.query)
    cutoff = since_cutoff(body.since)
    try:
        trial = try_query(session, body.query, cutoff, body.source, body.samples)
    except UserError as exc:
        raise ApiError(422, str(exc), "query") from None
    return {
        "query": trial.query,
        "since": body.since,
        "total": trial.total,
        "candidates": trial.stats.candidates,
        "per_day": trial.per_day,
        "samples": [hit_json(hit) for hit in trial.samples],
    }


@router.get("/{name}")
def get_rule(
    name: str,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> dict[str, Any]:
    return rule_json(request, session, _rules(request, session, principal).get(name))


@router.patch("/{name}")
def change_rule(
    name: str,
    body: RulePatch,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> dict[str, Any]:
    rules = _rules(request, session, principal)
    entity = rules.writable(name)
    rule = check_rule(merged_fields(entity, body.model_dump(exclude_unset=True)), rules.config)
    return rule_json(request, session, rules.replace(entity, rule))


@router.delete("/{name}", status_code=204)
def delete_rule(
    name: str,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> Response:
    rules = _rules(request, session, principal)
    entity = rules.writable(name)
    users = [s.name for s in rules.config.subscribers if name in s.rules]
    if users:
        raise ApiError(409, f"rule {name!r} is used by subscriber {users[0]!r}: change that first", "name")
    rules.delete(entity)
    return Response(status_code=204)


@router.post("/{name}/diff")
def diff_rule(
    name: str,
    body: DiffIn,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> dict[str, Any]:
    """Stories the edited query would add and remove over the archive, against the rule's own."""
    current = _rules(request, session, principal).get(name)
    checked_query(body.query)
    try:
        diff = diff_queries(session, current.model.query, body.query, since_cutoff(body.since), body.source)
    except UserError as exc:
        raise ApiError(422, str(exc), "query") from None
    return {
        "rule": name,
        "query": current.model.query,
        "new_query": body.query,
        "since": body.since,
        "added_total": diff.added_total,
        "removed_total": diff.removed_total,
        "unchanged": diff.unchanged,
        "added": [hit_json(hit) for hit in diff.added],
        "removed": [hit_json(hit) for hit in diff.removed],
    }
