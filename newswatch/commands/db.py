"""`newswatch db upgrade`: create or migrate the schema."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_command(ctx: typer.Context) -> None:
    """Create the database schema, or migrate it to the newest version."""
    from newswatch.core.db import current_revision, make_engine, shown_database, upgrade

    url = ctx.obj.database_url
    upgrade(url)
    engine = make_engine(url)
    print(f"database at revision {current_revision(engine)}: {shown_database(url)}")
    engine.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
