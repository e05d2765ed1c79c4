"""The web interface's pages (server-rendered HTML over the same functions as the API):
`/` overview, `/articles`, `/rules`, `/subscribers`, `/alerts`, `/sources`, `/users`.
`install(app)` adds them, the static files and the answers for a missing login, a page only
admins may open and a form without its CSRF token."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from newswatch.web.pages import accounts, alerts, articles, overview, rules, sources, subscribers
from newswatch.web.pages.base import HTML_HEADERS, FormRefused, LoginRequired, NotAllowed, templates

STATIC = Path(__file__).resolve().parent.parent / "static"
ROUTERS = (overview, articles, rules, subscribers, alerts, sources, accounts)


def install(app: FastAPI) -> None:
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(LoginRequired)
    async def login_first(request: Request, exc: LoginRequired) -> RedirectResponse:
        target = "/login" if exc.next_path in ("", "/") else f"/login?next={quote(exc.next_path, safe='/')}"
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(NotAllowed)
    async def admins_only(request: Request, exc: NotAllowed) -> HTMLResponse:
        return _message(403, "Admins only", "Only an admin may open this page.")

    @app.exception_handler(FormRefused)
    async def refused(request: Request, exc: FormRefused) -> HTMLResponse:
        return _message(
            403,
            "Form refused",
            "This form is out of date or was sent from another site. Go back, reload the page and try again.",
        )


def _message(status: int, heading: str, text: str) -> HTMLResponse:
    html = templates.get_template("message.html").render(title=heading, heading=heading, text=text)
    return HTMLResponse(html, status_code=status, headers=HTML_HEADERS)
