"""The accounts commands (`users add|list`, `tokens create`), `newswatch web`, rule examples in
`newswatch check`, and the warning for a non-loopback listen address."""

from __future__ import annotations

import hashlib
import logging
import socket
import subprocess
import sys
from pathlib import Path

from alert_helpers import write_config
from api_support import SUBSCRIBERS, ApiServer
from sqlalchemy import select

from newswatch.core.db import make_engine, session_factory
from newswatch.core.runtime_models import ApiToken

REPO = Path(__file__).resolve().parent.parent


def _cli(config: Path, db: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config), "--db", db, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_users_and_tokens_from_the_shell(tmp_path: Path, sqlite_url: str) -> None:
    config = tmp_path / "config"
    write_config(config, SUBSCRIBERS)
    added = _cli(
        config, sqlite_url, "users", "add", "alice", "--admin", "--password-stdin", stdin="long-password\n"
    )
    assert added.returncode == 0, added.stderr
    again = _cli(config, sqlite_url, "users", "add", "alice", "--password-stdin", stdin="long-password\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    short = _cli(config, sqlite_url, "users", "add", "bob", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    made = _cli(config, sqlite_url, "tokens", "create", "alice", "--label", "ci")
    assert made.returncode == 0, made.stderr
    token = made.stdout.splitlines()[-1]
    assert token.startswith("nwt_") and " " not in token
    listed = _cli(config, sqlite_url, "users", "list")
    assert "alice" in listed.stdout and "admin" in listed.stdout and "1 tokens" in listed.stdout
    assert _cli(config, sqlite_url, "tokens", "create", "nobody").returncode == 2
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        stored = list(session.scalars(select(ApiToken.token_hash)))
    engine.dispose()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]  # only the hash is kept


def test_failing_rule_example_fails_check_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "config"
    rules = [
        {
            "name": "iss-deorbit",
            "query": 'deorbit* AND (ISS OR "International Space Station")',
            "examples": {"match": ["NASA picked SpaceX to deorbit the station."], "no_match": []},
        },
        {"name": "roscosmos", "query": "Roscosmos"},
    ]
    try:
        write_config(config, SUBSCRIBERS, rules=rules)
    except Exception:  # noqa: BLE001 - loading refuses it; `check` must say so in one line
        pass
    result = subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config), "check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2
    assert "examples.match[0]" in result.stderr and "iss-deorbit" in result.stderr
    assert "the rule does not match it: none of" in result.stderr and "Traceback" not in result.stderr


def test_web_on_an_address_in_use_is_exit_2(tmp_path: Path, sqlite_url: str) -> None:
    config = tmp_path / "config"
    write_config(config, SUBSCRIBERS)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = _cli(config, sqlite_url, "web", "--listen", f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert f"cannot serve the web interface on 127.0.0.1:{port}" in result.stderr
    bad = _cli(config, sqlite_url, "run", "--web", "nowhere")
    assert bad.returncode == 2 and "HOST:PORT" in bad.stderr


def test_listening_beyond_loopback_is_a_warning(tmp_path: Path, sqlite_url: str, caplog) -> None:
    write_config(tmp_path / "config", SUBSCRIBERS)
    server = ApiServer(tmp_path / "config", sqlite_url)
    server.context.listen = "0.0.0.0:0"
    with caplog.at_level(logging.WARNING, logger="newswatch.web"):
        server.start()
        server.stop()
    warnings = [r for r in caplog.records if "not a loopback address" in r.getMessage()]
    assert len(warnings) == 1
