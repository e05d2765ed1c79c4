"""A real browser for the page tests: headless Chromium (Debian's, /usr/bin/chromium) driven by
Playwright. The tests skip, saying why, only where no Chromium is installed (`.ci/run`
installs it). Screenshots of the pages go to $NEWSWATCH_SCREENSHOTS (default: a folder in the
system's temporary directory), outside the repository."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (make install does)"
    )
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no Chromium here: `apt-get install -y chromium` (as .ci/run does) or set NEWSWATCH_CHROMIUM"
        )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh browser context (no cookies) and page; console errors and page errors collected
    in `page.problems`."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    tab.on("console", lambda message: tab.problems.append(message.text) if message.type == "error" else None)
    yield tab
    context.close()


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
