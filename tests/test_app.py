"""The application object: one config, one database, the stages built from them; secrets
from the config masked in every log line."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from newswatch.app import App
from newswatch.core.errors import ConfigError
from newswatch.core.logs import setup_logging

REPO = Path(__file__).resolve().parent.parent


def test_one_database_is_shared_by_the_stages(config_dir: Path, sqlite_url: str) -> None:
    app = App(config_option=config_dir, db_option=sqlite_url)
    assert app.config is app.config  # loaded once
    assert app.engine is app.database.engine and app.sessions is app.database.sessions
    dispatcher = app.dispatcher()
    assert dispatcher.sessions is app.sessions and dispatcher.config is app.config
    compiled = app.compile_rules()
    assert sorted(compiled.names) == sorted(r.name for r in app.config.rules if r.enabled)
    app.close()


def test_crawl_manager_uses_the_apps_database(config_dir: Path, sqlite_url: str, reactor_loop) -> None:
    app = App(config_option=config_dir, db_option=sqlite_url)
    manager = app.crawl_manager(workers=1)
    try:
        assert manager.context.sessions is app.sessions
        assert manager.context.database_url == sqlite_url
    finally:
        reactor_loop.run_until_complete(manager.close())
    # Closing the crawler leaves the application's database usable.
    with app.sessions() as session:
        assert session.connection() is not None
    app.close()


def test_stage_checks_apply_where_the_value_stands(config_dir: Path, sqlite_url: str) -> None:
    rules = config_dir / "rules.yaml"
    rules.write_text("rules:\n  - name: broken\n    query: 'deorbit AND (ISS'\n", encoding="utf-8")
    (config_dir / "subscribers.yaml").write_text(
        "subscribers:\n  - name: desk\n    notify: ['nosuchscheme://x']\n    rules: [broken]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        App(config_option=config_dir, db_option=sqlite_url).config  # noqa: B018 - loading is the test
    assert str(error.value).startswith(f"{rules}: rules[0] 'broken': field 'query': column ")


def test_notify_url_secrets_are_masked_in_log_lines(config_dir: Path, sqlite_url: str) -> None:
    (config_dir / "subscribers.yaml").write_text(
        "subscribers:\n  - name: desk\n    notify: ['json://hooks.example.org/in?-apikey=s3cr3t-k3y-value']\n"
        "    rules: [roscosmos]\n",
        encoding="utf-8",
    )
    stream = io.StringIO()
    setup_logging("INFO", "text", stream=stream)
    try:
        App(config_option=config_dir, db_option=sqlite_url).config  # noqa: B018 - registers the secrets
        logging.getLogger("newswatch.test").warning("a stray secret: s3cr3t-k3y-value")
    finally:
        setup_logging("WARNING", "text")
    assert "s3cr3t-k3y-value" not in stream.getvalue()
    assert "a stray secret: ***" in stream.getvalue()


def _loaded_after(args: list[str], watched: tuple[str, ...], cwd: Path) -> tuple[str, list[str] | None]:
    """Run `newswatch ARGS` in a fresh interpreter; return its output and which of the
    `watched` modules it had imported by the end."""
    import subprocess
    import sys

    probe = (
        "import json, sys\n"
        "from newswatch.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('LOADED', json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    output = result.stdout + result.stderr
    marker = next((line for line in result.stdout.splitlines() if line.startswith("LOADED ")), None)
    return output, None if marker is None else json.loads(marker.removeprefix("LOADED "))


@pytest.mark.parametrize("command", ["status", "alerts"])
def test_commands_that_show_stored_state_load_neither_apprise_nor_the_matcher(tmp_path, command) -> None:
    """They start in about half the time (Apprise loads ~130 plugins to check notify URLs)."""
    from newswatch.core.db import upgrade

    database = f"sqlite:///{tmp_path / 'nw.db'}"
    upgrade(database)
    args = ["--config", str(REPO / "config"), "--db", database, command]
    output, loaded = _loaded_after(args, ("apprise", "alerts.rules.compiled"), REPO)
    assert loaded == [], output


def test_check_opens_no_database_and_loads_no_sqlalchemy(tmp_path) -> None:
    """`check` reads only files: SQLAlchemy (~0.4 s of imports) stays unloaded, and no database
    file appears where the config points."""
    database = tmp_path / "never.db"
    args = ["--config", str(REPO / "config"), "--db", f"sqlite:///{database}", "check"]
    output, loaded = _loaded_after(args, ("sqlalchemy", "newswatch.core.db"), REPO)
    assert "config OK" in output, output
    assert loaded == [], output
    assert not database.exists()


def test_match_with_a_rules_file_loads_no_apprise(tmp_path) -> None:
    """A rules file holds no notify URL: `match --rules` skips Apprise's ~0.5 s of plugins."""
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: iss\n    query: '\"space station\" OR ISS'\n", encoding="utf-8")
    articles = tmp_path / "articles.jsonl"
    articles.write_text('{"id": 1, "title": "", "text": "The ISS is a space station."}\n', encoding="utf-8")
    output, loaded = _loaded_after(
        ["match", "--rules", str(rules), "--articles", str(articles)], ("apprise",), tmp_path
    )
    assert '"rules": ["iss"]' in output, output
    assert loaded == [], output
