"""CLI start-up: wall time of each command on the bundled config, best and median of 5 runs.

Targets: `--help` / `--version` ≤ 0.3 s; `check`, `status`, `alerts` ≤ 0.7 s. The first run
of each command is discarded (cold page cache). The database is a SQLite file migrated once
before the runs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = 5
TARGETS = {"--help": 0.3, "--version": 0.3, "check": 0.7, "status": 0.7, "alerts": 0.7}
# What the commands cannot go below, measured the same way: the interpreter alone, and the
# libraries each command needs (SQLAlchemy's ORM for `status` / `alerts`, Apprise with its
# plugins for `check`). They say how fast this machine is, and what is left to our code.
FLOORS = {
    "python": "pass",
    "sqlalchemy.orm": "import sqlalchemy.orm",
    "apprise+plugins": "import apprise; apprise.Apprise.instantiate('json://localhost')",
    "typer+pydantic": "import typer.main, pydantic",
}


def _time(args: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=REPO)
    took = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return took


def main() -> None:
    script = Path(sys.executable).with_name("newswatch")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "newswatch"]
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        from newswatch.core.db import upgrade

        upgrade(url)  # `status` and `alerts` refuse a database file that does not exist
        base = [*command, "--config", str(REPO / "config"), "--db", url]
        print(f"{'command':<12} {'best':>7} {'median':>7} {'target':>7}")
        for name, target in TARGETS.items():
            args = [*command, name] if name.startswith("--") else [*base, name]
            _time(args)  # warm the page cache
            times = [_time(args) for _ in range(RUNS)]
            verdict = "ok" if statistics.median(times) <= target else "SLOW"
            print(
                f"{name:<12} {min(times):>6.2f}s {statistics.median(times):>6.2f}s {target:>6.1f}s  {verdict}",
                flush=True,
            )
        print("floors (python -c …, the same runs):")
        for name, code in FLOORS.items():
            args = [sys.executable, "-c", code]
            _time(args)
            times = [_time(args) for _ in range(RUNS)]
            print(f"  {name:<16} {min(times):>6.2f}s {statistics.median(times):>6.2f}s", flush=True)


if __name__ == "__main__":
    main()
