"""`/api/v1/me`, `/api/v1/users` (admins) and `/api/v1/tokens` (each user their own).

A token is shown once, in the answer that makes it; only its hash is stored. Another user's
token is a 404, like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from newswatch.core.entity_store import bump_revision
from newswatch.core.runtime_models import ApiToken, ManagedEntity, User
from newswatch.web.auth import Principal, create_user, current_user, get_session, issue_token, require_admin
from newswatch.web.common import iso
from newswatch.web.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["users and tokens"])


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    password: str = Field(max_length=1000)
    admin: bool = False


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str | None = Field(default=None, max_length=200)


def _user_json(user: User) -> dict[str, Any]:
    return {"name": user.name, "admin": user.is_admin, "created_at": iso(user.created_at)}


def _token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "label": token.label,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
    }


@router.get("/me")
def me(principal: Principal = Depends(current_user)) -> dict[str, Any]:
    """Who the request acts for; `csrf_token` is what a browser session sends in X-CSRF-Token."""
    return {
        "name": principal.name,
        "admin": principal.is_admin,
        "via": principal.via,
        "csrf_token": principal.csrf,
    }


@router.get("/users")
def list_users(
    session: Session = Depends(get_session), principal: Principal = Depends(require_admin)
) -> list[dict[str, Any]]:
    return [_user_json(u) for u in session.scalars(select(User).order_by(User.name))]


@router.post("/users", status_code=201)
def add_user(
    body: UserIn, session: Session = Depends(get_session), principal: Principal = Depends(require_admin)
) -> dict[str, Any]:
    try:
        user = create_user(session, body.name, body.password, body.admin)
    except ValueError as exc:
        field = "password" if "password" in str(exc) else "name"
        raise ApiError(422, f"{field}: {exc}", field) from None
    except LookupError as exc:
        raise ApiError(409, str(exc), "name") from None
    session.commit()
    return _user_json(user)


@router.delete("/users/{name}", status_code=204)
def remove_user(
    name: str, session: Session = Depends(get_session), principal: Principal = Depends(require_admin)
) -> Response:
    """Remove an account with its tokens, rules, subscribers and sources."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise ApiError(404, f"no user named {name!r}")
    if user.id == principal.id:
        raise ApiError(409, "you cannot remove your own account", "name")
    owned = session.scalar(
        select(func.count()).select_from(ManagedEntity).where(ManagedEntity.owner_id == user.id)
    )
    session.execute(delete(ManagedEntity).where(ManagedEntity.owner_id == user.id))
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    session.delete(user)
    if owned:
        bump_revision(session)
    session.commit()
    return Response(status_code=204)


@router.get("/tokens")
def list_tokens(
    session: Session = Depends(get_session), principal: Principal = Depends(current_user)
) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ApiToken).where(ApiToken.user_id == principal.id, ApiToken.kind == "api").order_by(ApiToken.id)
    )
    return [_token_json(t) for t in rows]


@router.post("/tokens", status_code=201)
def create_token(
    body: TokenIn, session: Session = Depends(get_session), principal: Principal = Depends(current_user)
) -> dict[str, Any]:
    """A new API token for yourself: `token` is shown this once."""
    user = session.get(User, principal.id)
    token, row = issue_token(session, user, body.label)
    session.commit()
    return _token_json(row) | {"token": token}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(
    token_id: int, session: Session = Depends(get_session), principal: Principal = Depends(current_user)
) -> Response:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != principal.id or row.kind != "api":
        raise ApiError(404, f"no token {token_id}")
    session.delete(row)
    session.commit()
    return Response(status_code=204)
