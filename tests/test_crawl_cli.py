"""`newswatch crawl [SOURCE…]`: one pass now, a summary table, exit status by outcome."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from crawl_support import source, write_config

pytestmark = pytest.mark.timeout(240)


def newswatch(config_dir: Path, db: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", db, *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


def table_row(output: str, name: str) -> list[str]:
    line = next(line for line in output.splitlines() if f" {name} " in line)
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def test_crawl_prints_a_summary_and_a_second_pass_costs_304s(tmp_path, site) -> None:
    config_dir = tmp_path / "config"
    write_config(config_dir, [source("desk", "feed", f"{site.url}/feed.xml")])
    db = f"sqlite:///{tmp_path / 'newswatch.db'}"
    first = newswatch(config_dir, db, "crawl")
    assert first.returncode == 0, first.stderr
    for header in ("source", "fetched", "304", "new", "duplicates", "errors"):
        assert header in first.stdout
    assert table_row(first.stdout, "desk")[:6] == ["desk", "16", "0", "15", "0", "0"]
    second = newswatch(config_dir, db, "crawl", "desk")
    assert second.returncode == 0, second.stderr
    assert table_row(second.stdout, "desk")[:6] == ["desk", "1", "1", "0", "0", "0"]


def test_unknown_source_is_one_line_and_exit_2(tmp_path, site) -> None:
    config_dir = tmp_path / "config"
    write_config(config_dir, [source("desk", "feed", f"{site.url}/feed.xml")])
    result = newswatch(config_dir, f"sqlite:///{tmp_path / 'x.db'}", "crawl", "desk", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"newswatch: error: no source named 'nope' in {config_dir / 'sources.yaml'}"
    ]
    assert site.requests == [], "nothing is crawled when a name is wrong"


def test_a_source_that_cannot_be_reached_exits_1(tmp_path, site) -> None:
    config_dir = tmp_path / "config"
    write_config(
        config_dir,
        [
            source("desk", "feed", f"{site.url}/feed.xml"),
            source("gone", "feed", f"{site.url}/no-such-feed.xml"),
        ],
    )
    result = newswatch(config_dir, f"sqlite:///{tmp_path / 'x.db'}", "crawl")
    assert result.returncode == 1
    assert table_row(result.stdout, "desk")[3] == "15"
    assert "HTTP 404" in result.stdout


def test_crawl_from_a_folder_holding_dirs_named_like_the_packages(tmp_path, site) -> None:
    """The parent folder of a clone named `newswatch` holds a `newswatch/` directory: the
    worker processes once imported that instead of the installed package and lost every page."""
    script = Path(sys.executable).with_name("newswatch")
    if not script.exists():
        pytest.skip(f"needs the installed console script {script}")
    for name in ("newswatch", "crawler", "alerts"):
        (tmp_path / name).mkdir()
    config_dir = tmp_path / "config"
    write_config(config_dir, [source("desk", "feed", f"{site.url}/feed.xml")])
    result = subprocess.run(
        [str(script), "--config", str(config_dir), "--db", f"sqlite:///{tmp_path / 'n.db'}", "crawl"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "ImportError" not in result.stderr
    assert table_row(result.stdout, "desk")[:6] == ["desk", "16", "0", "15", "0", "0"]
