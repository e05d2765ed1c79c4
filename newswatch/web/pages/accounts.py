"""`/users`: accounts (admins: every user, add and remove one) and API tokens (everyone: their
own; a new token is shown once, only its hash is kept)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from newswatch.web.errors import ApiError
from newswatch.web.pages.base import done, form_fields, page_user, posted, render
from newswatch.web.routes_users import (
    TokenIn,
    UserIn,
    add_user,
    create_token,
    list_tokens,
    list_users,
    remove_user,
    revoke_token,
)

router = APIRouter(include_in_schema=False)


def _page(request, session, principal, status=200, error=None, new_token=None, form=None) -> HTMLResponse:
    return render(
        request,
        "users.html",
        principal,
        status,
        title="Users and tokens" if principal.is_admin else "Your API tokens",
        users=list_users(session, principal) if principal.is_admin else [],
        tokens=list_tokens(session, principal),
        error=error,
        new_token=new_token,
        form=form or {"name": "", "admin": False},
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> HTMLResponse:
    with request.app.state.context.session() as session:
        principal = page_user(request, session)
        return _page(request, session, principal)


@router.post("/users", response_class=HTMLResponse)
@posted
def change_accounts(request: Request, form_data: FormData) -> Response:
    with request.app.state.context.session() as session:
        principal = page_user(request, session)
        fields = form_fields(request, principal, form_data)
        action = fields.get("action")
        form = {"name": str(fields.get("name") or "").strip(), "admin": fields.get("admin") == "on"}
        try:
            if action == "token":
                made = create_token(
                    TokenIn(label=str(fields.get("label") or "")[:200] or None), session, principal
                )
                return _page(request, session, principal, new_token=made)
            if action == "revoke":
                revoke_token(int(fields.get("token_id") or 0), session, principal)
                return done("/users", "token revoked")
            if not principal.is_admin:
                raise ApiError(403, "only an admin may manage accounts")
            if action == "remove":
                remove_user(form["name"], session, principal)
                return done("/users", f"user {form['name']} removed")
            body = UserIn(name=form["name"], password=str(fields.get("password") or ""), admin=form["admin"])
            add_user(body, session, principal)
        except ApiError as exc:
            return _page(request, session, principal, exc.status, error=exc, form=form)
        except ValueError as exc:
            return _page(
                request, session, principal, 422, error=ApiError(422, str(exc).splitlines()[0]), form=form
            )
    return done("/users", f"user {form['name']} added")
