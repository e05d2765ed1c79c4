"""Accounts and who is asking: argon2 password hashes, API tokens and browser sessions stored
as SHA-256 hashes, admin and user roles, and CSRF for cookie-authenticated unsafe requests.

A request is authenticated by `Authorization: Bearer TOKEN` (an API token) or by the session
cookie that `/login` sets (HttpOnly, SameSite=Lax). A cookie-authenticated POST, PATCH or
DELETE must carry the session's CSRF token in `X-CSRF-Token` (or a `csrf_token` form field):
another site can make the browser send the cookie, but cannot read the token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from newswatch.core.models import utcnow
from newswatch.core.runtime_models import ApiToken, User
from newswatch.web.errors import ApiError

SESSION_COOKIE = "newswatch_session"
SESSION_LIFETIME = timedelta(days=14)
LAST_USED_EVERY = timedelta(minutes=1)  # how often a token's last_used_at is written
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        _hasher.hash(password)  # same cost as a real check: no timing hint that the user has none
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session_token: str) -> str:
    """Return the CSRF token belonging to one browser session (derived, never stored)."""
    return hashlib.sha256(b"newswatch-csrf:" + session_token.encode()).hexdigest()[:40]


def name_problem(name: str) -> str | None:
    if not USER_NAME.match(name or ""):
        return "a user name is 1-100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
    return None


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    return None


def create_user(session: Session, name: str, password: str | None, admin: bool) -> User:
    """Add an account (the caller commits); ValueError says what is wrong with the input."""
    problem = name_problem(name) or (password_problem(password) if password is not None else None)
    if problem:
        raise ValueError(problem)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise LookupError(f"a user named {name!r} already exists")
    user = User(name=name, password_hash=hash_password(password) if password else None, is_admin=admin)
    session.add(user)
    session.flush()
    return user


def issue_token(
    session: Session, user: User, label: str | None, kind: str = "api", lifetime: timedelta | None = None
) -> tuple[str, ApiToken]:
    """Return a new token (shown once) and its row; only the hash is stored."""
    prefix = "nws_" if kind == "session" else "nwt_"
    token = prefix + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=token_hash(token),
        kind=kind,
        label=label,
        expires_at=utcnow() + lifetime if lifetime else None,
    )
    session.add(row)
    session.flush()
    return token, row


@dataclass(frozen=True)
class Principal:
    """The user a request acts for, and how it proved it."""

    id: int
    name: str
    is_admin: bool
    via: str  # "token" | "session"
    token_id: int
    csrf: str | None = None


def get_session(request: Request):
    """A database session for one request (sync handlers run in worker threads)."""
    with request.app.state.context.session() as session:
        yield session


def _lookup(session: Session, token: str, kind: str) -> tuple[ApiToken, User] | None:
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash(token), ApiToken.kind == kind)
    ).first()
    if row is None:
        return None
    token_row, user = row
    now = utcnow()
    if token_row.expires_at is not None and token_row.expires_at < now:
        return None
    if token_row.last_used_at is None or now - token_row.last_used_at > LAST_USED_EVERY:
        token_row.last_used_at = now
        session.commit()
    return token_row, user


def current_user(request: Request, session: Session = Depends(get_session)) -> Principal:
    """Who is asking (401 when nobody; 403 for a cookie-authenticated unsafe request without CSRF)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "use 'Authorization: Bearer TOKEN'")
        found = _lookup(session, token.strip(), "api")
        if found is None:
            raise ApiError(401, "unknown, revoked or expired API token")
        token_row, user = found
        return Principal(user.id, user.name, user.is_admin, "token", token_row.id)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = _lookup(session, cookie, "session")
        if found is not None:
            token_row, user = found
            expected = csrf_token(cookie)
            if request.method in _UNSAFE:
                given = request.headers.get("x-csrf-token", "")
                if not hmac.compare_digest(given, expected):
                    raise ApiError(403, "missing or wrong CSRF token (send it in the X-CSRF-Token header)")
            return Principal(user.id, user.name, user.is_admin, "session", token_row.id, expected)
    raise ApiError(
        401, "authentication required: 'Authorization: Bearer TOKEN' or log in at /login", field=None
    )


def require_admin(principal: Principal = Depends(current_user)) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "only an admin may do this")
    return principal


def session_expiry() -> datetime:
    return utcnow() + SESSION_LIFETIME
