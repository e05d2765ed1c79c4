"""`/sources` (admins): every source with its health; add one after seeing what it yields
(the preview fetches it with the crawler's own rules, SSRF guard included); enable or disable;
poll now; OPML import and export.

"Poll now" asks the running service (when the interface is served by `newswatch run`); a
separate `newswatch web` process says that it cannot."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from newswatch.core.models import utcnow
from newswatch.health import source_health
from newswatch.web.entities import Entities
from newswatch.web.errors import ApiError
from newswatch.web.pages.base import admin_user, done, form_fields, posted, render
from newswatch.web.routes_sources import (
    PreviewIn,
    SourceIn,
    SourcePatch,
    _import,
    change_source,
    create_source,
    delete_source,
    parse_or_422,
    preview_source,
    source_json,
)

router = APIRouter(include_in_schema=False)
KINDS = ("feed", "sitemap", "listing")


def _page(request, session, principal, status=200, form=None, error=None, preview=None, imported=None):
    context = request.app.state.context
    sources = [source_json(e) for e in Entities(session, context, principal, "source").all()]
    health = {h.name: h for h in source_health(session, context.effective_config(session), utcnow())}
    return render(
        request,
        "sources.html",
        principal,
        status,
        title="Sources",
        sources=sources,
        health=health,
        form=form
        or {"name": "", "kind": "feed", "url": "", "links": "", "every": "10m", "allow_private": False},
        kinds=KINDS,
        error=error,
        preview=preview,
        imported=imported,
        can_poll=getattr(context, "poll_now", None) is not None,
    )


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request) -> HTMLResponse:
    with request.app.state.context.session() as session:
        principal = admin_user(request, session)
        return _page(request, session, principal)


def _from_form(fields: dict[str, Any]) -> dict[str, Any]:
    kind = fields.get("kind") if fields.get("kind") in KINDS else "feed"
    return {
        "name": str(fields.get("name") or "").strip(),
        "kind": kind,
        "url": str(fields.get("url") or "").strip(),
        "links": str(fields.get("links") or "").strip(),
        "every": str(fields.get("every") or "10m").strip(),
        "allow_private": fields.get("allow_private") == "on",
    }


@router.post("/sources", response_class=HTMLResponse)
@posted
def add_source(request: Request, form_data: FormData) -> Response:
    context = request.app.state.context
    with context.session() as session:
        principal = admin_user(request, session)
        fields = form_fields(request, principal, form_data)
        form = _from_form(fields)
        body: dict[str, Any] = {form["kind"]: form["url"], "allow_private": form["allow_private"]}
        if form["kind"] == "listing":
            body["links"] = form["links"] or None
        try:
            if fields.get("action") == "preview":
                found = preview_source(PreviewIn.model_validate(body), request, principal)
                return _page(request, session, principal, form=form, preview=found)
            body |= {"name": form["name"], "every": form["every"]}
            create_source(SourceIn.model_validate(body), request, session, principal)
        except ApiError as exc:
            return _page(request, session, principal, exc.status, form=form, error=exc)
        except ValueError as exc:
            return _page(
                request, session, principal, 422, form=form, error=ApiError(422, str(exc).splitlines()[0])
            )
    return done("/sources", f"source {form['name']} added: its first poll starts within seconds")


@router.post("/sources/import", response_class=HTMLResponse)
@posted
def import_opml(request: Request, form_data: FormData) -> Response:
    context = request.app.state.context
    with context.session() as session:
        principal = admin_user(request, session)
        fields = form_fields(request, principal, form_data)
        upload = fields.get("opml")
        data = upload.file.read() if hasattr(upload, "file") else str(upload or "").encode()
        try:
            result = _import(parse_or_422(data), request, session, principal)
        except ApiError as exc:
            return _page(request, session, principal, exc.status, error=exc)
        return _page(request, session, principal, imported=result)


@router.post("/sources/{name}", response_class=HTMLResponse)
@posted
def change(request: Request, form_data: FormData, name: str) -> Response:
    context = request.app.state.context
    with context.session() as session:
        principal = admin_user(request, session)
        fields = form_fields(request, principal, form_data)
        action = fields.get("action")
        try:
            if action == "poll":
                poll_now = getattr(context, "poll_now", None)
                if poll_now is None:
                    raise ApiError(
                        409, "polling on request needs the service: this interface runs without it"
                    )
                Entities(session, context, principal, "source").get(name)
                poll_now(name)
                return done("/sources", f"source {name} is being polled now")
            if action == "delete":
                delete_source(name, request, session, principal)
                return done("/sources", f"source {name} deleted")
            enabled = action == "enable"
            change_source(name, SourcePatch(enabled=enabled), request, session, principal)
        except ApiError as exc:
            return _page(request, session, principal, exc.status, error=exc)
    return done("/sources", f"source {name} {'enabled' if enabled else 'disabled'}")
