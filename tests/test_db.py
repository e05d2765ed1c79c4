"""Storage foundation, on SQLite and PostgreSQL: migrations, pragmas, UTC round trips,
and the unique constraints the alert guarantees rest on."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from newswatch.core.db import (
    SCHEMA_HEAD,
    Database,
    alembic_config,
    current_revision,
    make_engine,
    session_scope,
)
from newswatch.core.models import Alert, Article, Source, Story

REPO = Path(__file__).resolve().parent.parent


def _article(source: Source, url: str, story: Story | None = None) -> Article:
    return Article(
        source=source, canonical_url=url, url=url, title="t", text="x", content_hash="h" * 64, story=story
    )


def test_schema_is_at_head(engine) -> None:
    assert current_revision(engine) is not None
    tables = set(inspect(engine).get_table_names())
    assert {
        "sources",
        "articles",
        "article_urls",
        "stories",
        "matches",
        "alerts",
        "deliveries",
        "digests",
        "crawl_runs",
        "http_cache",
        "alert_sightings",
    } <= tables


def test_schema_head_names_the_newest_migration(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert ScriptDirectory.from_config(alembic_config(url)).get_current_head() == SCHEMA_HEAD


def test_a_database_behind_the_schema_is_migrated_when_opened(tmp_path: Path) -> None:
    from newswatch.core.db import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    database = Database(url)
    assert current_revision(database.engine) == SCHEMA_HEAD
    database.dispose()


def test_times_come_back_timezone_aware_utc(sessions) -> None:
    moscow = timezone(timedelta(hours=3))
    published = datetime(2026, 4, 12, 9, 7, tzinfo=moscow)
    with session_scope(sessions) as s:
        src = Source(name="s", kind="feed", url="https://e.org/feed")
        art = _article(src, "https://e.org/a")
        art.published_at = published
        s.add(art)
    with session_scope(sessions) as s:
        stored = s.scalars(select(Article)).one()
        assert stored.published_at == published
        assert stored.published_at.tzinfo is not None
        assert stored.published_at.utcoffset() == timedelta(0)


def test_canonical_url_is_unique(sessions) -> None:
    with session_scope(sessions) as s:
        src = Source(name="s", kind="feed", url="https://e.org/feed")
        s.add(_article(src, "https://e.org/a"))
    with pytest.raises(IntegrityError):
        with session_scope(sessions) as s:
            src = s.scalars(select(Source)).one()
            s.add(_article(src, "https://e.org/a"))


def test_one_alert_per_subscriber_and_story_is_enforced_by_the_schema(sessions) -> None:
    with session_scope(sessions) as s:
        src = Source(name="s", kind="feed", url="https://e.org/feed")
        story = Story(title="x")
        a1, a2 = _article(src, "https://e.org/a", story), _article(src, "https://f.org/b", story)
        s.add_all([a1, a2])
        s.flush()
        s.add(Alert(subscriber="desk", story_id=story.id, article_id=a1.id, rules=["r"]))
    with pytest.raises(IntegrityError):
        with session_scope(sessions) as s:
            story = s.scalars(select(Story)).one()
            other = s.scalars(select(Article).where(Article.url == "https://f.org/b")).one()
            s.add(Alert(subscriber="desk", story_id=story.id, article_id=other.id, rules=["r"]))


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    engine.dispose()


def test_db_upgrade_command_creates_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "nw.db"
    result = subprocess.run(
        [sys.executable, "-m", "newswatch", "--db", f"sqlite:///{db}", "db", "upgrade"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert db.exists()
    assert "revision" in result.stdout
    # Idempotent.
    again = subprocess.run(
        [sys.executable, "-m", "newswatch", "--db", f"sqlite:///{db}", "db", "upgrade"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newswatch", "--db", "postgresql://nobody@127.0.0.1:1/x", "db", "upgrade"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["status"], ["alerts"], ["db", "upgrade"], ["run"]])
def test_a_file_that_is_not_a_database_is_one_line_and_left_as_it_was(tmp_path: Path, command) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"my notes, not a database\n" * 10)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "newswatch",
            "--config",
            str(REPO / "config"),
            "--db",
            f"sqlite:///{path}",
            *command,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.strip()
        == f"newswatch: error: cannot open database sqlite:///{path}: file is not a database"
    )
    assert path.read_bytes() == b"my notes, not a database\n" * 10


def test_naive_datetimes_are_refused(sessions) -> None:
    with pytest.raises(Exception, match="naive"):
        with session_scope(sessions) as s:
            src = Source(name="s", kind="feed", url="https://e.org/feed")
            art = _article(src, "https://e.org/a")
            art.published_at = datetime(2026, 1, 1)
            s.add(art)
            s.flush()
    assert UTC


def test_upgrading_an_existing_sqlite_database_keeps_its_rows(tmp_path: Path) -> None:
    """SQLite migrations rebuild tables; rows pointing at a rebuilt table must survive."""
    from alembic import command

    from newswatch.core.db import alembic_config, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0002")
    engine = make_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO sources(name, kind, url, created_at, consecutive_failures) "
            "VALUES ('s', 'feed', 'http://x', CURRENT_TIMESTAMP, 0)"
        )
        c.exec_driver_sql("INSERT INTO stories(title, created_at) VALUES ('t', CURRENT_TIMESTAMP)")
        c.exec_driver_sql(
            "INSERT INTO articles(source_id, story_id, canonical_url, url, title, text, authors, "
            "fetched_at, content_hash, alertable) "
            "VALUES (1, 1, 'u', 'u', 't', 'x', '[]', CURRENT_TIMESTAMP, 'h', 1)"
        )
        c.exec_driver_sql(
            "INSERT INTO alerts(subscriber, story_id, article_id, rules, kind, created_at, in_digest) "
            "VALUES ('d', 1, 1, '[]', 'match', CURRENT_TIMESTAMP, 0)"
        )
        c.exec_driver_sql(
            "INSERT INTO deliveries(alert_id, subscriber, destination, destination_key, status, "
            "attempts, next_attempt_at, created_at) "
            "VALUES (1, 'd', 'x', 'k', 'pending', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM deliveries").scalar() == 1
        assert c.exec_driver_sql("SELECT count(*) FROM alerts").scalar() == 1
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    engine.dispose()
