"""The pages served without an account: `/login`, `/setup` (one time, to make the first admin)
and `/healthz`; plus `/logout`, `/` and the API description (`/api/openapi.json`, `/api/docs`),
which need one.

`/login` takes a form (the page) or JSON `{"username", "password"}`; on success it sets the
session cookie (HttpOnly, SameSite=Lax, Secure over https). Failed logins are limited per
address and name (429 with Retry-After).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from newswatch import __version__
from newswatch.core.errors import UserError
from newswatch.core.runtime_models import ApiToken, User
from newswatch.web.auth import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Principal,
    create_user,
    csrf_token,
    current_user,
    issue_token,
    token_hash,
    verify_password,
)
from newswatch.web.errors import ApiError, error_body
from newswatch.web.pages.base import HTML_HEADERS

router = APIRouter(tags=["pages"])
_pages = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)
_PAGE_HEADERS = HTML_HEADERS


def _page(status: int = 200, **values: Any) -> HTMLResponse:
    defaults = {
        "heading": "Log in",
        "action": "/login",
        "button": "Log in",
        "username": "",
        "setup_token": None,
    }
    html = _pages.get_template("login.html").render(defaults | values)
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


async def _credentials(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = await request.json()
        except ValueError:
            raise ApiError(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, 'send {"username": …, "password": …}')
    else:
        data = dict(await request.form())
    return {k: str(data.get(k) or "")[:1000] for k in ("username", "password", "token", "next")}


def _wants_json(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/json")


def _safe_next(value: str | None) -> str:
    """Where to go after logging in: a path of this site only (never `//host` or a URL)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _logged_in(
    request: Request, session_token: str, name: str, as_json: bool, next_path: str = "/"
) -> Response:
    response: Response
    if as_json:
        response = JSONResponse({"name": name, "csrf_token": csrf_token(session_token)})
    else:
        response = RedirectResponse(_safe_next(next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(next: str = "") -> HTMLResponse:
    return _page(next=_safe_next(next) if next else "")


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    context = request.app.state.context
    given = await _credentials(request)
    address = request.client.host if request.client else "?"
    wait = context.limiter.retry_after(address, given["username"])
    if wait is not None:
        message = "too many failed logins: try again later"
        if _wants_json(request):
            return JSONResponse(error_body(message), status_code=429, headers={"Retry-After": str(wait)})
        return _page(429, message=message, username=given["username"], next=given["next"])

    def check() -> tuple[str, str] | None:
        with context.session() as session:
            user = session.scalar(select(User).where(User.name == given["username"]))
            if not verify_password(user.password_hash if user else None, given["password"]) or user is None:
                return None
            token, _ = issue_token(session, user, "browser session", "session", SESSION_LIFETIME)
            session.commit()
            return token, user.name

    result = await run_in_threadpool(check)
    if result is None:
        context.limiter.failed(address, given["username"])
        message = "wrong username or password"
        if _wants_json(request):
            return JSONResponse(error_body(message), status_code=401)
        return _page(401, message=message, username=given["username"], next=given["next"])
    context.limiter.succeeded(address, given["username"])
    return _logged_in(request, result[0], result[1], _wants_json(request), given["next"])


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    """End this browser session: from the page's form (its `csrf_token` field; answered with a
    redirect to /login) or from a script (the X-CSRF-Token header; answered in JSON)."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    form = {} if _wants_json(request) else dict(await request.form())
    given = str(form.get("csrf_token") or request.headers.get("x-csrf-token", ""))
    if not cookie or not hmac.compare_digest(given, csrf_token(cookie)):
        raise ApiError(403, "missing or wrong CSRF token (send it in the X-CSRF-Token header)")

    def forget() -> None:
        with request.app.state.context.session() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(cookie)))
            if row is not None:
                session.delete(row)
                session.commit()

    await run_in_threadpool(forget)
    response: Response = (
        RedirectResponse("/login", status_code=303) if form else JSONResponse({"logged_out": True})
    )
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _setup_open(request: Request, token: str) -> bool:
    expected = request.app.state.context.setup_token
    return bool(expected) and hmac.compare_digest(expected.encode(), token.encode())


@router.get("/setup", response_class=HTMLResponse, include_in_schema=False)
def setup_page(request: Request, token: str = "") -> HTMLResponse:
    if not _setup_open(request, token):
        return _page(404, heading="Set-up", message="this set-up link is not valid (or was used already)")
    intro = "No account exists yet: choose the first admin's username and password."
    return _page(
        heading="Create the first admin", action="/setup", button="Create", setup_token=token, intro=intro
    )


@router.post("/setup", include_in_schema=False)
async def setup(request: Request) -> Response:
    context = request.app.state.context
    given = await _credentials(request)
    if not _setup_open(request, given["token"]):
        raise ApiError(404, "this set-up link is not valid (or was used already)")

    def make() -> str:
        with context.session() as session:
            if session.scalar(select(User.id).limit(1)) is not None:
                raise ApiError(409, "an account exists already: log in at /login")
            try:
                user = create_user(session, given["username"], given["password"], admin=True)
            except ValueError as exc:
                raise ApiError(422, str(exc), "password" if "password" in str(exc) else "username") from None
            token, _ = issue_token(session, user, "browser session", "session", SESSION_LIFETIME)
            session.commit()
            return token

    session_token = await run_in_threadpool(make)
    context.setup_token = None
    return _logged_in(request, session_token, given["username"], _wants_json(request))


@router.get("/healthz", tags=["health"])
def healthz(request: Request) -> JSONResponse:
    """200 while the database answers; 503 otherwise (no driver text)."""
    try:
        with request.app.state.context.session() as session:
            session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, UserError):
        return JSONResponse({"status": "error", "error": "database unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "version": __version__, "database": "ok"})


@router.get("/api/openapi.json", include_in_schema=False)
def openapi(request: Request, principal: Principal = Depends(current_user)) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/api/docs", include_in_schema=False)
def docs(principal: Principal = Depends(current_user)) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/api/openapi.json", title="newswatch API")
