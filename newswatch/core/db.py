"""Database engines and sessions for SQLite and PostgreSQL, and schema migration.

SQLite runs in WAL mode (readers never block the writer), with a busy timeout (a second
process waits instead of failing) and foreign keys on. PostgreSQL goes through psycopg 3:
`postgresql://…` URLs are rewritten to `postgresql+psycopg://…`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from newswatch.core.errors import UserError
from newswatch.core.redact import display_url

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_database_url(url: str) -> str:
    """Return `url` with the driver newswatch uses (psycopg 3 for PostgreSQL)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Nothing of it is repeated: a password with a raw '@' would show its tail.
        raise UserError(
            "the database URL is not valid: use sqlite:///path or postgresql://user:password@host/db "
            "(a '@', ':' or '/' inside the password must be written %40, %3A, %2F)"
        ) from None
    if parsed.host and "@" in parsed.host:  # `user:pa@ss@host`: the tail would show as the host
        raise UserError(
            "the database URL has a raw '@' in its password: write it as %40 (or pass the URL in "
            "$NEWSWATCH_DATABASE_URL with the password percent-encoded)"
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if not (parsed.drivername.startswith("sqlite") or parsed.drivername.startswith("postgresql")):
        raise UserError(f"unsupported database {parsed.drivername!r}: use sqlite:///path or postgresql://…")
    return parsed.render_as_string(hide_password=False)


def shown_database(url: str) -> str:
    """The database URL as it may be printed: no password, in the userinfo or as ?password=."""
    return display_url(normalise_database_url(url))


def sqlite_path(url: str) -> Path | None:
    """Return the file of a SQLite URL (None for another database or an in-memory one)."""
    parsed = make_url(normalise_database_url(url))
    if parsed.drivername.startswith("sqlite") and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database)
    return None


def make_engine(url: str, **kwargs) -> Engine:
    """Return an engine for `url`, creating the SQLite file's directory if needed."""
    url = normalise_database_url(url)
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            private_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def private_file(path: Path) -> None:
    """Create the SQLite file (and the folders it needs) readable by its owner only, whatever the
    umask: it holds every article, alert and error text. SQLite gives the -wal and -shm files
    the database file's permissions. An existing file or folder is left as it is."""
    missing = [folder for folder in [path.parent, *path.parent.parents] if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.fchmod(descriptor, 0o600)
    os.close(descriptor)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database:
    """One deployment's database: its URL, one engine and its sessions, the schema migrated
    before the first use. Built once (by the application object) and shared by every stage
    that runs in this process; worker processes open their own engine from `url`."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self._migrate = migrate

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.url)
        if self._migrate and _stored_revision(engine) != SCHEMA_HEAD:
            engine.dispose()
            upgrade(self.url)
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite file this database lives in (None for PostgreSQL or in-memory SQLite)."""
        return sqlite_path(self.url)

    def dispose(self) -> None:
        """Close the engine's pooled connections (the engine stays usable)."""
        if "engine" in self.__dict__:
            self.engine.dispose()


# The newest migration's revision: a database already there starts without loading Alembic
# (~0.2 s of every start). tests/test_db.py checks that it names Alembic's head.
SCHEMA_HEAD = "0008"


def _stored_revision(engine: Engine) -> str | None:
    """The schema revision stored in the database, or None (no schema yet, or unreadable)."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def alembic_config(url: str):
    # Alembic is imported where it is used: ~130 ms that commands which never migrate skip.
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", normalise_database_url(url).replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Create or migrate the schema at `url` to `revision` (Alembic)."""
    from alembic import command  # slow import, see alembic_config

    path = sqlite_path(url)
    if path is not None:
        private_file(path)
    try:
        command.upgrade(alembic_config(url), revision)
    except DBAPIError as exc:  # unreachable, refused, or not a database at all
        raise UserError(
            f"cannot open database {shown_database(url)}: {str(exc.orig).splitlines()[0]}"
        ) from None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # slow import, see alembic_config

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
