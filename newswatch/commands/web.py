"""`newswatch web`, `newswatch users add|list`, `newswatch tokens create`: the web interface
alone, and the accounts behind it (DESIGN "HTTP API and web interface")."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from newswatch.core.errors import UserError

users_app = typer.Typer(
    help="Accounts of the web interface and the API.", no_args_is_help=True, rich_markup_mode=None
)
tokens_app = typer.Typer(
    help="API tokens (Authorization: Bearer TOKEN).", no_args_is_help=True, rich_markup_mode=None
)


def web(
    ctx: typer.Context,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen", metavar="HOST:PORT", help="Address to serve on (default: web.listen, 127.0.0.1:8470)."
        ),
    ] = None,
) -> None:
    """Serve the web interface and the API alone (no polling) against the same database."""
    from newswatch.web.standalone import serve_web

    raise typer.Exit(serve_web(ctx.obj, listen))


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME")],
    admin: Annotated[
        bool, typer.Option("--admin", help="May manage sources, users and everything else.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (one line).")
    ] = False,
) -> None:
    """Add an account; the password is asked for (or read from stdin with --password-stdin)."""
    from newswatch.core.db import session_scope
    from newswatch.web.auth import create_user, password_problem

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        raise UserError(f"users add: {problem}")
    try:
        with session_scope(ctx.obj.sessions) as session:
            create_user(session, name, password, admin)
    except (ValueError, LookupError) as exc:
        raise UserError(f"users add: {exc.args[0]}") from None
    print(f"added {'admin' if admin else 'user'} {name}")


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """List the accounts: name, role, API tokens, when made."""
    from sqlalchemy import func, select

    from newswatch.core.runtime_models import ApiToken, User

    with ctx.obj.read_sessions() as session:
        tokens = dict(
            session.execute(
                select(ApiToken.user_id, func.count())
                .where(ApiToken.kind == "api")
                .group_by(ApiToken.user_id)
            ).all()
        )
        users = list(session.scalars(select(User).order_by(User.name)))
    if not users:
        print("no accounts yet: `newswatch users add NAME --admin`, or the set-up URL `newswatch run` prints")
        return
    for user in users:
        role = "admin" if user.is_admin else "user"
        print(
            f"{user.name:<24} {role:<6} {tokens.get(user.id, 0):3d} tokens  since {user.created_at:%Y-%m-%d}"
        )


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(metavar="USER")],
    label: Annotated[str | None, typer.Option("--label", metavar="L", help="What the token is for.")] = None,
) -> None:
    """Make an API token for USER; it is printed once, alone on the last line (only a hash is kept)."""
    from sqlalchemy import select

    from newswatch.core.db import session_scope
    from newswatch.core.runtime_models import User
    from newswatch.web.auth import issue_token

    with session_scope(ctx.obj.sessions) as session:
        account = session.scalar(select(User).where(User.name == user))
        if account is None:
            raise UserError(f"tokens create: no user named {user!r} (`newswatch users list`)")
        token, _row = issue_token(session, account, label)
    print(f"API token for {user}{f' ({label})' if label else ''}; it is shown only now:")
    print(token)


def register(app: typer.Typer) -> None:
    app.command("web")(web)
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
