"""What every page shares: who is logged in (the session cookie; no cookie, no page: a redirect
to /login), the CSRF token every form carries, the Jinja2 templates (autoescaped: article titles
and text come from the web) and the headers of an HTML answer (a Content-Security-Policy that
allows only this site's own scripts and styles, so an injected `<script>` could not run even if
escaping failed).

A page's form posts back to a page route, which checks the form's `csrf_token` field against
the session's and then calls the same function the API's route calls, so a page and the API
cannot disagree about what is allowed or valid.
"""

from __future__ import annotations

import functools
import hmac
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from newswatch.core.models import utcnow
from newswatch.core.schedules import format_duration
from newswatch.web.auth import SESSION_COOKIE, Principal, csrf_token, current_user
from newswatch.web.errors import ApiError

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HTML_HEADERS = {"Content-Security-Policy": CSP}
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)


class LoginRequired(Exception):
    """Raised by `page_user` when nobody is logged in: answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class NotAllowed(Exception):
    """A page only admins may open."""


class FormRefused(Exception):
    """A form whose CSRF token is missing or wrong (another site's form, or a stale page)."""


def highlight(snippet: str | None) -> Markup:
    """A snippet's `**hit**` marks as <mark>, everything else escaped."""
    if not snippet:
        return Markup("")
    out, last = [], 0
    for found in _BOLD.finditer(snippet):
        out.append(escape(snippet[last : found.start()]))
        out.append(Markup("<mark>") + escape(found.group(1)) + Markup("</mark>"))
        last = found.end()
    out.append(escape(snippet[last:]))
    return Markup("").join(out)


def ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    delta = utcnow() - value
    if delta.total_seconds() < 0:
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if delta.total_seconds() < 60:
        return "just now"
    return f"{format_duration(delta.__class__(seconds=int(delta.total_seconds())))} ago"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def isotime(value: str | None) -> str:
    """An ISO time from the API's JSON as 'YYYY-MM-DD HH:MM'."""
    return value[:16].replace("T", " ") if value else "—"


templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
templates.filters["highlight"] = highlight
templates.filters["ago"] = ago
templates.filters["when"] = when
templates.filters["isotime"] = isotime
templates.filters["urlpart"] = lambda value: quote(str(value), safe="")


def page_user(request: Request, session: Session) -> Principal:
    """The logged-in user of a page request (a browser session; API tokens are for the API)."""
    if SESSION_COOKIE not in request.cookies:
        raise LoginRequired(request.url.path)
    try:
        return current_user(_as_get(request), session)
    except ApiError:
        raise LoginRequired(request.url.path) from None


def admin_user(request: Request, session: Session) -> Principal:
    principal = page_user(request, session)
    if not principal.is_admin:
        raise NotAllowed()
    return principal


def _as_get(request: Request) -> Request:
    """The same request, seen as a GET: a page checks the CSRF token of its form itself
    (`check_form`), not in a header as the API does."""
    scope = dict(request.scope)
    scope["method"] = "GET"
    return Request(scope)


def form_fields(request: Request, principal: Principal, form: FormData) -> dict[str, Any]:
    """Return the posted form's fields after checking its CSRF token (FormRefused otherwise)."""
    given = str(form.get("csrf_token") or "")
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if principal.via != "session" or not hmac.compare_digest(given, csrf_token(cookie)):
        raise FormRefused()
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key == "csrf_token":
            continue
        if key in fields:
            fields[key] = [*fields[key], value] if isinstance(fields[key], list) else [fields[key], value]
        else:
            fields[key] = value
    return fields


def posted(handler: Callable[..., Response]) -> Callable[..., Awaitable[Response]]:
    """Make a page's form handler: the form is read on the event loop, everything else (the
    database, a preview's fetch, a test message) runs in a worker thread, so that the polls
    sharing the loop never wait for a page."""

    @functools.wraps(handler)
    async def endpoint(request: Request, **params: Any) -> Response:
        form = await request.form()
        return await run_in_threadpool(handler, request, form, **params)

    signature = inspect.signature(handler)
    endpoint.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for name, p in signature.parameters.items() if name != "form_data"]
    )
    return endpoint


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "request": request,
        "user": principal,
        "csrf": principal.csrf if principal else None,
        "path": request.url.path,
        "notice": request.query_params.get("done"),
    }
    html = templates.get_template(template).render(context | values)
    return HTMLResponse(html, status_code=status, headers=HTML_HEADERS)


def done(path: str, message: str, params: Mapping[str, str] | None = None) -> RedirectResponse:
    """Redirect after a successful form (so a reload does not post again), with a notice."""
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in {**(params or {}), "done": message}.items())
    return RedirectResponse(f"{path}?{query}", status_code=303)
