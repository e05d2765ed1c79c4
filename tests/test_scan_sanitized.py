"""The C extensions kept honest: alerts/rules/_scan.c (the chunk table) and _explain.c (the hits)
built with AddressSanitizer and UndefinedBehaviorSanitizer, and the scan and matcher tests run
against that build.

The build goes into a copy of the packages in a temporary folder (the working tree's own
extension is left alone), and the tests run there with the sanitizers' runtimes preloaded
(Python itself is not instrumented). Skipped where the compiler cannot build with them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FLAGS = [
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    "-fno-omit-frame-pointer",
    "-g",
    "-O1",
]


def _compiler() -> str:
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler here")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        pytest.skip("no Python headers here")
    return compiler


def _runtime(compiler: str, name: str) -> str:
    found = subprocess.run(
        [compiler, f"-print-file-name={name}"], capture_output=True, text=True
    ).stdout.strip()
    if not found or not Path(found).is_file():
        pytest.skip(f"the compiler has no {name}")
    return str(Path(found).resolve())


def build_sanitized(target: Path) -> list[str]:
    """Copy the packages and tests to `target`, build the extension there with the sanitizers,
    and return the runtimes to preload (skips where that cannot be done)."""
    compiler = _compiler()
    probe = target / "probe.c"
    target.mkdir(parents=True, exist_ok=True)
    probe.write_text("int main(void) { return 0; }\n")
    if subprocess.run(
        [compiler, *FLAGS, str(probe), "-o", str(target / "probe")], capture_output=True
    ).returncode:
        pytest.skip("the compiler cannot build with -fsanitize=address,undefined")
    ignore = shutil.ignore_patterns("__pycache__", "*.so", ".hypothesis", "data")
    for package in ("alerts", "newswatch", "crawler", "tests", "config"):
        shutil.copytree(REPO / package, target / package, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", target)
    shared = REPO.parent / "shared"
    if shared.is_dir() and not (target.parent / "shared").exists():
        (target.parent / "shared").symlink_to(shared)  # the real pages, as beside the repository
    include = sysconfig.get_paths()["include"]
    for name, sources in (
        ("_scan", ["_scan.c", "_walk.c", "_decide.c", "_keys.c", "_learn.c", "_places.c"]),
        ("_explain", ["_explain.c", "_entries.c", "_merged.c", "_snippets.c"]),
    ):
        module = target / "alerts" / "rules" / (name + sysconfig.get_config_var("EXT_SUFFIX"))
        files = [str(target / "alerts" / "rules" / source) for source in sources]
        build = [compiler, "-shared", "-fPIC", *FLAGS, f"-I{include}", *files, "-o", str(module)]
        done = subprocess.run(build, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    return [_runtime(compiler, "libasan.so"), _runtime(compiler, "libubsan.so")]


def test_scan_and_matcher_tests_pass_with_address_and_undefined_behaviour_sanitizers(tmp_path: Path) -> None:
    target = tmp_path / "sanitized"
    preload = build_sanitized(target)
    env = {
        **os.environ,
        "LD_PRELOAD": ":".join(preload),
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",  # CPython keeps memory to the end by design
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        "PYTHONPATH": str(target),
    }
    env.pop("NEWSWATCH_PURE_PYTHON", None)
    where = subprocess.run(
        [sys.executable, "-c", "import alerts.rules._scan as s, alerts.rules._explain as e; print(s.__file__, e.__file__)"],
        cwd=target, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert all(f.startswith(str(target)) for f in where.stdout.split()), (
        "the sanitized build is not the one imported"
    )
    # --capture=sys: a sanitizer's report (written to file descriptor 2) reaches `output`.
    tests = ["tests/test_scan.py", "tests/test_matcher.py", "-k", "not command"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--capture=sys", "-x", *tests],
        cwd=target, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert "AddressSanitizer" not in output and "runtime error" not in output, output[-5000:]
    assert done.returncode == 0, output[-5000:]
