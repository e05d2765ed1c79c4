"""newswatch check and config loading: the bundled config passes, every kind of mistake is
one clear line naming file, entry and field, with exit status 2 and no secret printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from newswatch.app import load_checked_config
from newswatch.core.config import resolve_database_url
from newswatch.core.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "newswatch", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=120,
    )


def test_bundled_config_passes_check() -> None:
    result = run_cli("--config", str(REPO / "config"), "check")
    assert result.returncode == 0, result.stderr
    assert "config OK" in result.stdout
    summary = " ".join(result.stdout.split())  # the terminal may wrap a long config path
    assert "1 subscriber" in summary and "1 subscribers" not in summary  # counts read as English
    # It says which matcher runs (the C extensions where `make install` could build them:
    # tests/test_matcher.py checks that they were).
    from alerts.rules.compiled import matcher_backend

    assert f"matcher: {matcher_backend()}" in summary
    forced = run_cli("--config", str(REPO / "config"), "check", env={"NEWSWATCH_PURE_PYTHON": "1"})
    assert "matcher: pure Python (NEWSWATCH_PURE_PYTHON=1)" in " ".join(forced.stdout.split())
    config = load_checked_config(REPO / "config")
    assert len(config.sources) >= 8
    assert {"feed", "sitemap", "listing"} <= {s.kind for s in config.sources}
    assert any("Роскосмос" in r.query for r in config.rules)
    assert any(u.startswith("console://") for s in config.subscribers for u in s.notify)


def _edit(config_dir: Path, file: str, old: str, new: str) -> None:
    path = config_dir / file
    text = path.read_text()
    assert old in text, f"{old!r} not in {file}"
    path.write_text(text.replace(old, new, 1))


BROKEN = [
    pytest.param(
        "sources.yaml",
        "every: 10m",
        "every: 10 minutes",
        ["sources.yaml", "sources[0] 'nasa-news'", "field 'every'", "cannot parse"],
        id="bad-interval",
    ),
    pytest.param(
        "sources.yaml",
        "feed: https://www.nasa.gov/news-release/feed/",
        "feed: file:///etc/passwd",
        ["sources.yaml", "sources[0] 'nasa-news'", "field 'feed'", "not an http(s) URL"],
        id="file-url",
    ),
    pytest.param(
        "sources.yaml",
        "    every: 10m\n",
        "    every: 10m\n    colour: blue\n",
        ["sources.yaml", "sources[0] 'nasa-news'", "field 'colour'", "unknown key"],
        id="unknown-key",
    ),
    pytest.param(
        "sources.yaml",
        "name: esa-news",
        "name: nasa-news",
        ["sources.yaml", "sources[1] 'nasa-news'", "duplicate name"],
        id="duplicate-source",
    ),
    pytest.param(
        "rules.yaml",
        "name: iss-deorbit",
        "name: roscosmos",
        ["rules.yaml", "rules[1] 'roscosmos'", "duplicate name"],
        id="duplicate-rule",
    ),
    pytest.param(
        "subscribers.yaml",
        "rules: [roscosmos,",
        "rules: [roskosmos,",
        ["subscribers.yaml", "subscribers[0] 'terminal'", "field 'rules'", "no rule named 'roskosmos'"],
        id="missing-rule",
    ),
    pytest.param(
        "subscribers.yaml",
        'notify: ["console://"]',
        'notify: ["nosuch://user:hunter2@example.org"]',
        ["subscribers.yaml", "subscribers[0] 'terminal'", "field 'notify[0]'", "Apprise"],
        id="unknown-apprise-scheme",
    ),
    pytest.param(
        "subscribers.yaml",
        "digest: null",
        "digest: weekly",
        ["subscribers.yaml", "field 'digest'", "cannot parse digest"],
        id="bad-digest",
    ),
    pytest.param(
        "rules.yaml",
        "query: 'Roscosmos OR",
        "query: '(Roscosmos OR",
        ["rules.yaml", "rules[0] 'roscosmos'", "field 'query'", "column"],
        id="malformed-query",
    ),
    pytest.param(
        "rules.yaml",
        "query: 'Roscosmos OR",
        "query: 'NOT Roscosmos' #",
        ["rules.yaml", "rules[0] 'roscosmos'", "field 'query'", "only excludes"],
        id="only-excluding-query",
    ),
    pytest.param(
        "sources.yaml",
        "sources:\n",
        "sources:\n  - name: [unclosed\n",
        ["sources.yaml:", "YAML syntax error"],
        id="yaml-syntax",
    ),
]


@pytest.mark.parametrize("file,old,new,expected", BROKEN)
def test_broken_config_is_one_clear_line_with_exit_2(config_dir: Path, file, old, new, expected) -> None:
    _edit(config_dir, file, old, new)
    result = run_cli("--config", str(config_dir), "check")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    # One line per problem (a renamed rule also leaves a subscriber naming the old one).
    assert lines and all(line.startswith("newswatch: error: ") for line in lines), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])
    assert "hunter2" not in result.stderr + result.stdout


def test_yaml_error_names_the_line(config_dir: Path) -> None:
    (config_dir / "rules.yaml").write_text("rules:\n  - name: a\n    query: 'x\n")
    with pytest.raises(ConfigError) as info:
        load_checked_config(config_dir)
    assert info.value.line is not None and info.value.line >= 3


def test_duplicate_yaml_key_is_refused(config_dir: Path) -> None:
    (config_dir / "rules.yaml").write_text("rules:\n  - name: a\n    query: x\n    query: y\n")
    with pytest.raises(ConfigError, match="duplicate key 'query'"):
        load_checked_config(config_dir)


def test_env_substitution_and_missing_variable(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _edit(config_dir, "subscribers.yaml", 'notify: ["console://"]', 'notify: ["json://${HOOK_HOST}/in"]')
    monkeypatch.setenv("HOOK_HOST", "127.0.0.1:9999")
    config = load_checked_config(config_dir)
    assert config.subscribers[0].notify == ["json://127.0.0.1:9999/in"]
    monkeypatch.delenv("HOOK_HOST")
    with pytest.raises(ConfigError, match="environment variable HOOK_HOST is not set"):
        load_checked_config(config_dir)


def test_secret_in_valid_url_is_not_printed_by_check(config_dir: Path) -> None:
    _edit(
        config_dir,
        "subscribers.yaml",
        'notify: ["console://"]',
        'notify: ["mailto://desk:s3cr3t-pw@mail.example.org?to=a@example.org"]',
    )
    result = run_cli("--config", str(config_dir), "check")
    assert result.returncode == 0, result.stderr
    assert "s3cr3t-pw" not in result.stdout + result.stderr
    assert "mailto://" in result.stdout


@pytest.mark.parametrize(
    "settings,expected",
    [
        ("delivery:\n  lease: forever\n", "field 'delivery.lease': cannot parse 'forever' as a duration"),
        ("crawl:\n  max_page_size: lots\n", "field 'crawl.max_page_size': cannot parse 'lots' as a size"),
        ("health:\n  silent: 1h\n", "field 'health.silent': unknown key"),
    ],
)
def test_bad_settings_name_the_field(config_dir: Path, settings: str, expected: str) -> None:
    (config_dir / "settings.yaml").write_text(settings)
    result = run_cli("--config", str(config_dir), "check")
    assert result.returncode == 2
    assert "settings.yaml" in result.stderr and expected in result.stderr, result.stderr


def test_listing_needs_links_selector(config_dir: Path) -> None:
    _edit(config_dir, "sources.yaml", "    links: \"a.news-item, .newslist a[href*='/']\"\n", "")
    with pytest.raises(ConfigError, match="needs 'links'"):
        load_checked_config(config_dir)


def test_rule_source_must_exist(config_dir: Path) -> None:
    (config_dir / "rules.yaml").write_text("rules:\n  - name: a\n    query: ISS\n    sources: [nope]\n")
    with pytest.raises(ConfigError, match="no source named 'nope'"):
        load_checked_config(config_dir)


def test_missing_config_directory(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "absent"), "check")
    assert result.returncode == 2
    assert "config directory not found" in result.stderr


def test_config_dir_from_environment(config_dir: Path) -> None:
    result = run_cli("check", env={"NEWSWATCH_CONFIG": str(config_dir)}, cwd=config_dir.parent)
    assert result.returncode == 0, result.stderr
    assert str(config_dir) in result.stdout.replace("\n", "")


def test_database_url_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    from newswatch.core.config import Settings

    monkeypatch.delenv("NEWSWATCH_DATABASE_URL", raising=False)
    assert resolve_database_url(None, None) == "sqlite:///var/newswatch.db"
    assert resolve_database_url(None, Settings(database_url="sqlite:///x.db")) == "sqlite:///x.db"
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", "sqlite:///env.db")
    assert resolve_database_url(None, Settings(database_url="sqlite:///x.db")) == "sqlite:///env.db"
    assert resolve_database_url("sqlite:///opt.db", None) == "sqlite:///opt.db"


def test_yaml_alias_bomb_is_refused_quickly(config_dir: Path) -> None:
    # Nine levels of ten aliases: a billion strings once expanded, a few hundred bytes on disk.
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    bomb = "\n".join(lines).replace("\n", "\n  - ")
    (config_dir / "rules.yaml").write_text(f"rules:\n  - {bomb}\n")
    result = run_cli("--config", str(config_dir), "check")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "rules.yaml" in result.stderr
    assert "alias" in result.stderr and "Traceback" not in result.stderr


def test_recursive_yaml_anchor_is_refused(config_dir: Path) -> None:
    (config_dir / "rules.yaml").write_text("rules: &loop\n  - name: a\n    query: x\n    more: *loop\n")
    with pytest.raises(ConfigError, match="alias"):
        load_checked_config(config_dir)


def test_anchors_within_bounds_still_work(config_dir: Path) -> None:
    (config_dir / "sources.yaml").write_text(
        "sources:\n"
        "  - &slow {name: a, feed: 'https://example.org/a.xml', every: 1h, backfill: 2d}\n"
        "  - {<<: *slow, name: b, feed: 'https://example.org/b.xml'}\n"
    )
    (config_dir / "rules.yaml").write_text("rules:\n  - name: r\n    query: x\n")
    (config_dir / "subscribers.yaml").write_text(
        "subscribers:\n  - name: s\n    notify: ['console://']\n    rules: [r]\n"
    )
    config = load_checked_config(config_dir)
    assert [(s.name, s.every, s.backfill) for s in config.sources] == [("a", "1h", "2d"), ("b", "1h", "2d")]


@pytest.mark.parametrize(
    "file,old,new,field",
    [
        ("sources.yaml", "every: 10m", "every: 99999999999999999999d", "every"),
        ("sources.yaml", "every: 10m", "every: 10m\n    backfill: 1e30w", "backfill"),
        ("sources.yaml", "every: 10m", "every: 10m\n    silent_after: 99999999999999999999h", "silent_after"),
        ("subscribers.yaml", "digest: null", "digest: 'every 99999999999999999999h'", "digest"),
    ],
)
def test_huge_durations_are_one_clear_line(
    config_dir: Path, file: str, old: str, new: str, field: str
) -> None:
    _edit(config_dir, file, old, new)
    result = run_cli("--config", str(config_dir), "check")
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"field '{field}'" in result.stderr


@pytest.mark.parametrize("key", ["download_timeout", "max_page_size"])
def test_huge_settings_are_one_clear_line(config_dir: Path, key: str) -> None:
    value = "99999999999999999999d" if key == "download_timeout" else "99999999999999999999GB"
    (config_dir / "settings.yaml").write_text(f"crawl:\n  {key}: {value}\n")
    result = run_cli("--config", str(config_dir), "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"field 'crawl.{key}'" in result.stderr


def test_template_outside_the_config_directory_is_refused(config_dir: Path) -> None:
    _edit(
        config_dir, "subscribers.yaml", "digest: null", "digest: null\n    template: ../../../../etc/hostname"
    )
    with pytest.raises(ConfigError, match="outside the config directory") as info:
        load_checked_config(config_dir)
    assert info.value.field == "template"


@pytest.mark.parametrize(
    "url,allowed,refused",
    [
        ("http://127.0.0.1:8080/feed.xml", False, "loopback address"),
        ("http://localhost/feed.xml", False, "loopback address"),
        ("http://192.168.1.20/rss", False, "private address"),
        ("http://169.254.169.254/latest/meta-data", True, "link-local"),
        ("http://[::1]/feed.xml", True, None),
        ("http://10.0.0.5/feed.xml", True, None),
    ],
)
def test_check_says_when_a_source_would_be_refused_at_crawl_time(
    config_dir: Path, url: str, allowed: bool, refused: str | None
) -> None:
    _edit(
        config_dir,
        "sources.yaml",
        "feed: https://www.nasa.gov/news-release/feed/",
        f"feed: '{url}'" + ("\n    allow_private: true" if allowed else ""),
    )
    result = run_cli("--config", str(config_dir), "check")
    if refused is None:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and "sources[0] 'nasa-news'" in line and "field 'feed'" in line
    assert refused in line
    assert ("allow_private: true" in line) == (not allowed)


def test_check_reports_every_problem_one_line_each(config_dir: Path) -> None:
    _edit(config_dir, "sources.yaml", "every: 10m", "every: 10 minutes")
    _edit(config_dir, "sources.yaml", "every: 15m", "every: 15m\n    colour: blue")
    (config_dir / "rules.yaml").write_text(
        "rules:\n  - name: broken\n    query: 'deorbit AND (ISS'\n  - name: fine\n    query: ISS\n    sources: [nosuch]\n"
    )
    result = run_cli("--config", str(config_dir), "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("newswatch: error: ") for line in lines)
    wanted = [
        ("sources[0] 'nasa-news'", "field 'every'"),
        ("sources[1] 'esa-news'", "field 'colour'"),
        ("rules[0] 'broken'", "field 'query'"),
        ("rules[1] 'fine'", "no source named 'nosuch'"),
        ("subscribers[0] 'terminal'", "no rule named 'roscosmos'"),
    ]
    for entry, what in wanted:
        assert any(entry in line and what in line for line in lines), (entry, what, lines)
    # A source that is merely broken is not reported again where a rule names it.
    assert not any("no source named 'nasa-news'" in line for line in lines)


@pytest.mark.parametrize("command", [["alerts"], ["status"], ["articles", "ISS"], ["rules", "test", "ISS"]])
def test_read_only_commands_do_not_create_a_database(
    tmp_path: Path, config_dir: Path, command: list[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("--config", str(config_dir), *command, cwd=elsewhere)
    assert result.returncode == 2, result.stdout
    assert result.stderr.strip().splitlines() == [
        "newswatch: error: no database at var/newswatch.db: nothing has been stored there yet; give --db URL "
        "(or database_url in settings.yaml), or run from the deployment's folder"
    ]
    assert not (elsewhere / "var").exists()


def test_a_database_other_than_the_configs_is_named(tmp_path: Path, config_dir: Path) -> None:
    (config_dir / "settings.yaml").write_text(f"database_url: sqlite:///{tmp_path / 'configured.db'}\n")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    result = run_cli("--config", str(config_dir), "--db", other, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert (
        f"using database {other} (settings.yaml names sqlite:///{tmp_path / 'configured.db'})"
        in result.stderr
    )
