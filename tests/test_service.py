"""The service process: SIGHUP reload (a bad config is rejected and the old one kept), JSON
logs, /metrics and /healthz, the demo, and a broken config refused before anything starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from fixture_site import NewsSite
from receivers import WebhookReceiver, free_port

REPO = Path(__file__).resolve().parent.parent


def _start(args: list[str], log_path: Path) -> subprocess.Popen:
    # A session of its own, like a terminal's foreground job: Ctrl-C goes to the whole group.
    return subprocess.Popen(
        [sys.executable, "-m", "newswatch", *args],
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )


def _wait_for(condition, timeout: float, log_path: Path, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{log_path.read_text()[-4000:]}")


def _write(config_dir: Path, site: NewsSite, hook: str, query: str) -> None:
    config_dir.mkdir(exist_ok=True)
    (config_dir / "sources.yaml").write_text(
        f"sources:\n  - name: desk\n    feed: {site.url}/feed.xml\n    every: 1s\n    allow_private: true\n"
    )
    (config_dir / "rules.yaml").write_text(f"rules:\n  - name: watch\n    query: '{query}'\n")
    (config_dir / "subscribers.yaml").write_text(
        f'subscribers:\n  - name: desk\n    notify: ["{hook}"]\n    rules: [watch]\n'
    )


def test_sighup_reloads_rules_and_keeps_the_old_config_on_error(tmp_path: Path) -> None:
    site = NewsSite().start()  # the bundled articles, all published within the last days
    with WebhookReceiver() as hook:
        config_dir = tmp_path / "config"
        _write(config_dir, site, hook.url(), "nosuchwordanywhere")
        log_path = tmp_path / "service.log"
        proc = _start(
            [
                "--config",
                str(config_dir),
                "--db",
                f"sqlite:///{tmp_path / 'nw.db'}",
                "--log-format",
                "json",
                "run",
            ],
            log_path,
        )
        try:
            _wait_for(lambda: site.hits("/feed.xml") >= 2, 60, log_path, "the first polls")
            assert hook.requests == []
            # A broken config: rejected, the service keeps running on the old one.
            (config_dir / "rules.yaml").write_text("rules:\n  - name: watch\n    query: '(unclosed'\n")
            proc.send_signal(signal.SIGHUP)
            _wait_for(
                lambda: "config reload failed" in log_path.read_text(), 20, log_path, "the reload error"
            )
            assert proc.poll() is None
            # A good one: the new rule applies to the next article.
            _write(config_dir, site, hook.url(), "Roscosmos")
            proc.send_signal(signal.SIGHUP)
            _wait_for(lambda: "config reloaded" in log_path.read_text(), 20, log_path, "the reload")
            from newswatch.core.models import utcnow
            from newswatch.demo.site import DemoArticle

            site.publish(
                DemoArticle(
                    slug="after-reload",
                    title="Roscosmos names new flight director",
                    paragraphs=[
                        "Roscosmos named a new flight director on Monday.",
                        "The appointment takes effect next month. " * 5,
                    ],
                    published=utcnow(),
                )
            )
            assert hook.wait_for(1, timeout=40), log_path.read_text()[-4000:]
            assert "Roscosmos names new flight director" in hook.successes[0].json()["title"]
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            site.stop()
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(r.get("message") == "polled" and r.get("source") == "desk" for r in records)
    error = next(r for r in records if "config reload failed" in r["message"])
    assert "rules.yaml" in error["message"] and "column" in error["message"]


def test_metrics_and_healthz(tmp_path: Path) -> None:
    site = NewsSite([]).start()
    port = free_port()
    with WebhookReceiver() as hook:
        config_dir = tmp_path / "config"
        _write(config_dir, site, hook.url(), "Roscosmos")
        log_path = tmp_path / "service.log"
        proc = _start(
            [
                "--config",
                str(config_dir),
                "--db",
                f"sqlite:///{tmp_path / 'nw.db'}",
                "run",
                "--metrics-port",
                str(port),
            ],
            log_path,
        )
        try:
            _wait_for(lambda: site.hits("/feed.xml") >= 2, 60, log_path, "the first polls")

            def fetch(path: str) -> tuple[int, str]:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                    return response.status, response.read().decode()

            status, body = fetch("/healthz")
            assert (status, body.strip()) == (200, "ok")
            _wait_for(
                lambda: 'newswatch_polls_total{source="desk",outcome="ok"}' in fetch("/metrics")[1],
                20,
                log_path,
                "a poll counted in /metrics",
            )
            _, metrics = fetch("/metrics")
            assert 'newswatch_source_consecutive_failures{source="desk"} 0' in metrics
            assert 'newswatch_deliveries{status="failed"} 0' in metrics
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            site.stop()


def test_run_refuses_a_broken_config_before_starting(tmp_path: Path, config_dir: Path) -> None:
    (config_dir / "sources.yaml").write_text("sources:\n  - name: x\n    feed: ftp://example.org/feed\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "newswatch",
            "--config",
            str(config_dir),
            "--db",
            f"sqlite:///{tmp_path / 'nw.db'}",
            "run",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "sources.yaml" in result.stderr and "not an http(s) URL" in result.stderr
    assert not (tmp_path / "nw.db").exists()


def test_demo_shows_alerts_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    log_path = tmp_path / "demo.log"
    proc = _start(["demo", "--interval", "2"], log_path)
    try:
        _wait_for(lambda: "Rules:" in log_path.read_text(), 60, log_path, "an alert printed by the demo")
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the service and its workers
        code = proc.wait(30)
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "Source: orbital-desk" in output
    # It says where its data is and that it is gone.
    folder = next(
        line.split("data: ", 1)[1].split(" ", 1)[0] for line in output.splitlines() if "data: " in line
    )
    assert "deleted when the demo stops" in output and f"deleted {folder}" in output
    assert not Path(folder).exists()


def test_demo_rerun_on_the_same_database_says_why_nothing_alerts(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    proc = _start(["demo", "--interval", "1", "--db", db, "--keep"], first_log)
    try:
        _wait_for(lambda: "Rules:" in first_log.read_text(), 60, first_log, "an alert printed by the demo")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0
    first = first_log.read_text()
    kept = next(
        line.split("data kept in ", 1)[1].strip() for line in first.splitlines() if "data kept in" in line
    )
    assert Path(kept, "config", "sources.yaml").is_file()
    proc = _start(["demo", "--interval", "1", "--db", db], second_log)
    try:
        _wait_for(lambda: "already holds" in second_log.read_text(), 60, second_log, "the rerun notice")
        _wait_for(lambda: "polled" in second_log.read_text(), 60, second_log, "the first poll")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0
    second = second_log.read_text()
    assert "will not alert again" in second and "alert here" not in second
    assert f"{db} is kept" in second
