"""`/subscribers`: who gets which rules' alerts, where and how often. Destinations (Apprise
URLs) are write-only: after saving they are shown redacted, and an edit either keeps them or
replaces the whole list. "Send a test" sends a short message to each destination now. Every
subscriber has a read-only Atom feed of its alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from newswatch.web.entities import Entities
from newswatch.web.errors import ApiError
from newswatch.web.pages.base import done, form_fields, page_user, posted, render
from newswatch.web.routes_subscribers import (
    SubscriberIn,
    SubscriberPatch,
    change_subscriber,
    create_subscriber,
    delete_subscriber,
    subscriber_json,
    test_subscriber,
)

router = APIRouter(include_in_schema=False)
DIGESTS = ["", "every 1h", "every 4h", "daily 08:00", "daily 18:00"]


@router.get("/subscribers", response_class=HTMLResponse)
def subscribers_page(request: Request) -> HTMLResponse:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        rows = [
            subscriber_json(request, session, e)
            for e in Entities(session, context, principal, "subscriber").all()
        ]
    return render(request, "subscribers.html", principal, title="Subscriptions", subscribers=rows)


def _editor(
    request, session, principal, form: dict[str, Any], saved=None, status=200, error=None, results=None
):
    rules = sorted(e.name for e in Entities(session, request.app.state.context, principal, "rule").all())
    return render(
        request,
        "subscriber_edit.html",
        principal,
        status,
        title=f"Subscription {saved['name']}" if saved else "New subscription",
        form=form,
        saved=saved,
        rules=rules,
        digests=DIGESTS,
        error=error,
        results=results,
    )


def _from_form(fields: dict[str, Any]) -> dict[str, Any]:
    rules = fields.get("rules") or []
    return {
        "name": str(fields.get("name") or "").strip(),
        "notify": str(fields.get("notify") or ""),
        "rules": [rules] if isinstance(rules, str) else list(rules),
        "digest": str(fields.get("digest") or "").strip(),
        "format": str(fields.get("format") or ""),
    }


def _urls(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _blank() -> dict[str, Any]:
    return {"name": "", "notify": "", "rules": [], "digest": "", "format": ""}


@router.get("/subscribers/new", response_class=HTMLResponse)
def new_subscriber_page(request: Request) -> HTMLResponse:
    with request.app.state.context.session() as session:
        principal = page_user(request, session)
        return _editor(request, session, principal, _blank())


@router.post("/subscribers/new", response_class=HTMLResponse)
@posted
def new_subscriber(request: Request, form_data: FormData) -> Response:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        form = _from_form(form_fields(request, principal, form_data))
        try:
            body = SubscriberIn.model_validate(
                {
                    "name": form["name"],
                    "notify": _urls(form["notify"]),
                    "rules": form["rules"],
                    "digest": form["digest"] or None,
                    "format": form["format"] or None,
                }
            )
            create_subscriber(body, request, session, principal)
        except ApiError as exc:
            return _editor(request, session, principal, form, status=exc.status, error=exc)
        except ValueError as exc:
            return _editor(
                request, session, principal, form, status=422, error=ApiError(422, _first_error(exc))
            )
    return done(f"/subscribers/{form['name']}", f"subscription {form['name']} saved")


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', 'invalid')}"
    return str(exc)


@router.get("/subscribers/{name}", response_class=HTMLResponse)
def subscriber_page(request: Request, name: str) -> HTMLResponse:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        try:
            saved = subscriber_json(
                request, session, Entities(session, context, principal, "subscriber").get(name)
            )
        except ApiError:
            return render(
                request, "missing.html", principal, 404, title="Not found", what=f"subscription {name!r}"
            )
        form = {
            "name": name,
            "notify": "",
            "rules": saved["rules"],
            "digest": saved["digest"] or "",
            "format": saved["format"] or "",
        }
        return _editor(request, session, principal, form, saved=saved)


@router.post("/subscribers/{name}", response_class=HTMLResponse)
@posted
def save_subscriber(request: Request, form_data: FormData, name: str) -> Response:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        fields = form_fields(request, principal, form_data)
        form = _from_form(fields) | {"name": name}
        try:
            saved = subscriber_json(
                request, session, Entities(session, context, principal, "subscriber").get(name)
            )
        except ApiError:
            return render(
                request, "missing.html", principal, 404, title="Not found", what=f"subscription {name!r}"
            )
        action = fields.get("action")
        try:
            if action == "test":
                results = test_subscriber(name, request, session, principal)
                return _editor(request, session, principal, form, saved=saved, results=results)
            if action == "delete":
                delete_subscriber(name, request, session, principal)
                return done("/subscribers", f"subscription {name} deleted")
            changes: dict[str, Any] = {
                "rules": form["rules"],
                "digest": form["digest"] or None,
                "format": form["format"] or None,
            }
            if _urls(form["notify"]):
                changes["notify"] = _urls(form["notify"])
            change_subscriber(name, SubscriberPatch.model_validate(changes), request, session, principal)
        except ApiError as exc:
            return _editor(request, session, principal, form, saved=saved, status=exc.status, error=exc)
        except ValueError as exc:
            return _editor(
                request,
                session,
                principal,
                form,
                saved=saved,
                status=422,
                error=ApiError(422, _first_error(exc)),
            )
    return done(f"/subscribers/{name}", f"subscription {name} saved")
