"""A real browser for the page tests: headless Chromium (Debian's, /usr/bin/chromium) driven by
Playwright. The tests skip, saying why, only where no Chromium is installed (`.ci/run`
installs it). Screenshots of the pages go to $NEWSWATCH_SCREENSHOTS (default: a folder in the
system's temporary directory), outside the repository."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct-horse-battery"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("NEWSWATCH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def screenshot_dir() -> Path:
    folder = Path(
        os.environ.get("NEWSWATCH_SCREENSHOTS") or Path(tempfile.gettempdir()) / "newswatch-screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def shoot(page, name: str) -> Path:
    path = screenshot_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
