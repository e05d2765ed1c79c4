"""`/api/v1/subscribers`: who gets which rules' alerts, where; and a test message.

Notify URLs are write-only: every answer shows them redacted (`channels.redact_url`), and a
PATCH that gives `notify` replaces the whole list. Users see and manage their own subscribers
and may subscribe them to their own rules and the config files' rules; config-file subscribers
are shown to admins only.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from alerts.delivery.channels import redact_url, send_with_apprise
from alerts.delivery.render import Rendered
from newswatch.core.config import Config, Subscriber
from newswatch.core.schedules import parse_duration
from newswatch.web.auth import Principal, current_user, get_session
from newswatch.web.common import feed_url, iso
from newswatch.web.entities import Entities, Entity, merged_fields, validated
from newswatch.web.errors import ApiError
from newswatch.web.notify_urls import notify_problem

router = APIRouter(prefix="/api/v1/subscribers", tags=["subscribers"])
MAX_NOTIFY = 20


class SubscriberIn(BaseModel):
    """A new subscriber: its notify URLs (Apprise), the rules it follows, instant or a digest."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    notify: list[str] = Field(min_length=1, max_length=MAX_NOTIFY)
    rules: list[str] = Field(default_factory=list)
    digest: str | None = None
    format: Literal["markdown", "html", "text"] | None = None
    admin: bool = False


class SubscriberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    notify: list[str] | None = Field(default=None, min_length=1, max_length=MAX_NOTIFY)
    rules: list[str] | None = None
    digest: str | None = None
    format: Literal["markdown", "html", "text"] | None = None
    admin: bool | None = None


def _subscribers(request: Request, session: Session, principal: Principal) -> Entities:
    return Entities(session, request.app.state.context, principal, "subscriber")


def check_subscriber(fields: dict[str, Any], subscribers: Entities) -> Subscriber:
    """Return the subscriber, or a 422 naming the field (notify, rules, digest, admin)."""
    principal = subscribers.principal
    if fields.get("admin") and not principal.is_admin:
        raise ApiError(422, "admin: only an admin may receive source-health alarms", "admin")
    subscriber = validated("subscriber", fields)
    for position, url in enumerate(subscriber.notify):
        problem = notify_problem(url, principal.is_admin)
        if problem:
            raise ApiError(422, f"notify[{position}]: {problem}", "notify")
    rules = Entities(subscribers.session, subscribers.context, principal, "rule")
    visible = {e.name for e in rules.all()}
    for name in subscriber.rules:
        if name not in visible:
            raise ApiError(422, f"rules: no rule named {name!r}", "rules")
    return subscriber


def subscriber_json(request: Request, session: Session, entity: Entity) -> dict[str, Any]:
    subscriber: Subscriber = entity.model
    row = entity.row
    return {
        "name": subscriber.name,
        "notify": [redact_url(url) for url in subscriber.notify],
        "rules": subscriber.rules,
        "digest": subscriber.digest,
        "format": subscriber.format,
        "admin": subscriber.admin,
        "origin": entity.origin,
        "file": entity.file,
        "owner": entity.owner,
        "created_at": iso(row.created_at) if row else None,
        "updated_at": iso(row.updated_at) if row else None,
        "feed_url": feed_url(request, session, "subscriber", subscriber.name),
    }


@router.get("")
def list_subscribers(
    request: Request, session: Session = Depends(get_session), principal: Principal = Depends(current_user)
) -> list[dict[str, Any]]:
    return [subscriber_json(request, session, e) for e in _subscribers(request, session, principal).all()]


@router.post("", status_code=201)
def create_subscriber(
    body: SubscriberIn,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> dict[str, Any]:
    subscribers = _subscribers(request, session, principal)
    subscriber = check_subscriber(body.model_dump(exclude_unset=True), subscribers)
    return subscriber_json(request, session, subscribers.create(subscriber))


@router.get("/{name}")
def get_subscriber(
    name: str,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> dict[str, Any]:
    return subscriber_json(request, session, _subscribers(request, session, principal).get(name))


@router.patch("/{name}")
def change_subscriber(
    name: str,
    body: SubscriberPatch,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> dict[str, Any]:
    subscribers = _subscribers(request, session, principal)
    entity = subscribers.writable(name)
    fields = merged_fields(entity, body.model_dump(exclude_unset=True))
    subscriber = check_subscriber(fields, subscribers)
    return subscriber_json(request, session, subscribers.replace(entity, subscriber))


@router.delete("/{name}", status_code=204)
def delete_subscriber(
    name: str,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> Response:
    subscribers = _subscribers(request, session, principal)
    subscribers.delete(subscribers.writable(name))
    return Response(status_code=204)


@router.post("/{name}/test")
def test_subscriber(
    name: str,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> dict[str, Any]:
    """Send a short test message to each of the subscriber's destinations now."""
    entity = _subscribers(request, session, principal).get(name)
    config: Config = request.app.state.context.file_config()
    timeout = parse_duration(config.settings.delivery.timeout).total_seconds()
    message = Rendered(
        title="newswatch test message",
        body=f"This is a test of subscriber {name}: its alerts will arrive here.",
        format="text",
    )
    results = []
    for url in entity.model.notify:
        outcome = send_with_apprise(url, message, timeout=timeout)
        results.append({"destination": redact_url(url), "ok": outcome.ok, "error": outcome.error})
    return {"subscriber": name, "results": results, "ok": all(r["ok"] for r in results)}
