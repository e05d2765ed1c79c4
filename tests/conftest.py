"""Shared fixtures: fresh databases (SQLite file and, when configured, PostgreSQL), the
shared real-world pages, config directories, the fixture news site (tests/fixture_site.py)
and real crawls on Scrapy's reactor (tests/crawl_support.py).

PostgreSQL tests run when NEWSWATCH_TEST_DATABASE_URL points at a server (CI sets it);
every test gets its own database, cloned from a migrated template, and it is dropped after.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import CHROMIUM_ARGS, chromium_path
from fixture_site import NewsSite
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
PG_ENV = "NEWSWATCH_TEST_DATABASE_URL"


def pytest_configure(config: pytest.Config) -> None:
    # Tests must never pick up the user's deployment through the environment.
    for name in ("NEWSWATCH_CONFIG", "NEWSWATCH_DATABASE_URL"):
        os.environ.pop(name, None)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repository (real pages, scoring tools); skipped where absent."""
    if not (SHARED / "realworld" / "articles" / "ground-truth.json").exists():
        pytest.skip(f"{SHARED} is absent (a fresh clone without ../shared): real-world pages not available")
    return SHARED


@pytest.fixture(scope="session")
def page_scores(shared_dir: Path):
    """The per-page (precision, recall) of ../shared/tools/extract_f1.py, the shared scorer."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("extract_f1", shared_dir / "tools" / "extract_f1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.page_scores


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the bundled config/ that a test may edit."""
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    return target


def _admin_url(url: str) -> str:
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database that per-test databases are cloned from."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it; e.g. postgresql://postgres@127.0.0.1/test)")
    from newswatch.core.db import normalise_database_url, upgrade

    url = normalise_database_url(url)
    name = f"nw_tpl_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_admin_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    template_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    upgrade(template_url)
    from sqlalchemy.pool import NullPool  # noqa: F401  (engines below must not keep connections)

    yield template_url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_postgres(template_url: str) -> Iterator[str]:
    template = make_url(template_url)
    name = f"nw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_admin_url(template_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    try:
        yield template.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite database file."""
    from newswatch.core.db import upgrade

    url = f"sqlite:///{tmp_path / 'newswatch.db'}"
    upgrade(url)
    return url


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (skipped without NEWSWATCH_TEST_DATABASE_URL)."""
    template_url = request.getfixturevalue("postgres_template")
    yield from _fresh_postgres(template_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database: the test runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def engine(db_url: str):
    from newswatch.core.db import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):
    from newswatch.core.db import session_factory

    return session_factory(engine)


@pytest.fixture
def site() -> Iterator[NewsSite]:
    """The fixture news site with the bundled articles, on a free loopback port."""
    with NewsSite() as news_site:
        yield news_site


@pytest.fixture(scope="session")
def reactor_loop():
    """The asyncio loop of Scrapy's reactor, running for the whole session."""
    from crawler.runner import _ensure_reactor_running, reactor_event_loop

    loop = reactor_event_loop()
    _ensure_reactor_running()
    return loop


@pytest.fixture
def crawls(reactor_loop, db_url):
    """Factory: crawls(config, **scrapy_settings) → Crawls; every one is closed after the test."""
    from crawl_support import Crawls

    made: list[Crawls] = []

    def make(config, **settings) -> Crawls:
        made.append(Crawls(reactor_loop, config, db_url, **settings))
        return made[-1]

    yield make
    for item in made:
        item.close()


# ---------------------------------------------------------------- a real browser (tests/browser_support.py)


# Per module, not per session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and a later test of the same process that runs its own loop would fail.
@pytest.fixture(scope="module")
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
