"""Web pages with an archive of 100,000 articles: server time of every page (target < 200 ms)
and of the rule editor's preview (target < 1 s).

A SQLite database is filled with 100,000 articles of 10 sources over 60 days (stories of one to
three copies, a few thousand matches and alerts with deliveries, some failed), its search
index built, and the web application served on loopback as `newswatch web` serves it. Each
page is fetched 5 times by a logged-in client after one warm-up; the median and the slowest are
printed. `BENCH_PAGES_ARTICLES` sets the size; `NEWSWATCH_TEST_DATABASE_URL` adds a PostgreSQL
run beside SQLite.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import yaml
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
ARTICLES = int(os.environ.get("BENCH_PAGES_ARTICLES", 100_000))
SOURCES = [f"desk-{n}" for n in range(10)]
# A news-like vocabulary: 20,000 words drawn with Zipf weights (a few very common, most rare),
# and the rules' topic words in a few percent of the articles each.
_SYLLABLES = ["ka", "ro", "mi", "te", "sa", "lo", "ne", "vi", "du", "po", "ra", "zu", "be", "go", "li", "fa"]
TOPICS = {"roscosmos": 0.04, "soyuz": 0.02, "deorbit": 0.02, "station": 0.06, "leak": 0.01, "zvezda": 0.01}
RULES = [
    {"name": "roscosmos", "query": "roscosmos OR soyuz"},
    {"name": "iss-deorbit", "query": 'deorbit* AND (station OR "space station")'},
    {"name": "leaks", "query": "leak* NEAR/5 zvezda"},
]
PAGES = [
    "/",
    "/articles",
    "/articles?q=roscosmos",
    "/articles?q=deorbit*+AND+station&since=30d",
    "/articles/{article}",
    "/rules",
    "/rules/new",
    "/rules/leaks",
    "/subscribers",
    "/subscribers/desk",
    "/alerts",
    "/alerts?status=failed",
    "/sources",
    "/users",
]


def _config(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    sources = [{"name": s, "feed": f"https://{s}.example.org/feed", "every": "10m"} for s in SOURCES]
    subscribers = [
        {"name": "desk", "notify": ["json://hooks.example.org/in"], "rules": [r["name"] for r in RULES]}
    ]
    for name, document in {
        "sources.yaml": {"sources": sources},
        "rules.yaml": {"rules": RULES},
        "subscribers.yaml": {"subscribers": subscribers},
    }.items():
        (directory / name).write_text(yaml.safe_dump(document))


def _fill(url: str, count: int) -> int:
    """Fill the database; return the id of an article with matches (for its page)."""
    from newswatch.core.db import upgrade
    from newswatch.core.models import Alert, Article, Delivery, Match, Source, Story, utcnow

    upgrade(url)
    rng = random.Random(5)
    vocabulary = ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(20_000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]

    def body() -> list[str]:
        words = rng.choices(vocabulary, weights, k=120)
        for topic, share in TOPICS.items():
            if rng.random() < share:
                words[rng.randrange(len(words))] = topic
        return words

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(Source),
            [{"name": s, "kind": "feed", "url": f"https://{s}.example.org/feed"} for s in SOURCES],
        )
        source_ids = [row[0] for row in conn.execute(text("SELECT id FROM sources ORDER BY id"))]
        batch = 5000
        article_id = 0
        for start in range(0, count, batch):
            stories, articles = [], []
            size = min(batch, count - start)
            story_base = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM stories")).scalar()
            n_stories = 0
            while len(articles) < size:
                n_stories += 1
                words = body()
                title = " ".join(words[:8]).capitalize()
                when = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
                stories.append({"id": story_base + n_stories, "title": title, "created_at": when})
                for copy in range(min(rng.choice((1, 1, 1, 2, 3)), size - len(articles))):
                    article_id += 1
                    articles.append(
                        {
                            "id": article_id,
                            "source_id": source_ids[(article_id + copy) % len(source_ids)],
                            "story_id": story_base + n_stories,
                            "canonical_url": f"https://news.example.org/{article_id}",
                            "url": f"https://news.example.org/{article_id}",
                            "title": title,
                            "text": " ".join(words).capitalize() + ".",
                            "published_at": when,
                            "fetched_at": when,
                            "content_hash": f"{article_id:064x}",
                            "matched_at": when,
                            "authors": [],
                        }
                    )
            conn.execute(insert(Story), stories)
            conn.execute(insert(Article), articles)
        matched = rng.sample(range(1, count + 1), min(3000, count))
        conn.execute(
            insert(Match),
            [
                {
                    "article_id": a,
                    "rule": RULES[a % 3]["name"],
                    "hits": {"text": ["roscosmos"]},
                    "snippet": "… **roscosmos** …",
                }
                for a in matched
            ],
        )
        alerts = [
            {
                "id": i + 1,
                "subscriber": "desk",
                "article_id": a,
                "rules": [RULES[a % 3]["name"]],
                "created_at": now - timedelta(minutes=i),
            }
            for i, a in enumerate(matched[:2000])
        ]
        conn.execute(insert(Alert), alerts)
        conn.execute(
            insert(Delivery),
            [
                {
                    "alert_id": a["id"],
                    "subscriber": "desk",
                    "destination": "json://hooks.example.org",
                    "destination_key": f"{a['id']:064x}",
                    "status": "failed" if a["id"] % 50 == 0 else "sent",
                    "attempts": 8 if a["id"] % 50 == 0 else 1,
                    "last_error": "HTTP 500 from hooks.example.org" if a["id"] % 50 == 0 else None,
                }
                for a in alerts
            ],
        )
    engine.dispose()
    return matched[0]


class _Served:
    def __init__(self, config_dir: Path, url: str) -> None:
        from newswatch.app import App
        from newswatch.web.context import WebContext
        from newswatch.web.server import WebServer

        self.app = App(config_option=str(config_dir), db_option=url)
        self.context = WebContext(self.app, lambda: self.app.config, "127.0.0.1:0")
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = WebServer(self.context)
        asyncio.run_coroutine_threadsafe(self.server.start(announce=False), self.loop).result(60)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.app.close()


def _timed(client: httpx.Client, method: str, path: str, **kwargs) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.request(method, path, **kwargs)
    return time.perf_counter() - started, response.status_code


def bench(url: str, label: str, folder: Path) -> None:
    from alerts.rules.archive import refresh_search_index
    from newswatch.core.db import Database
    from newswatch.web.auth import create_user

    started = time.perf_counter()
    article = _fill(url, ARTICLES)
    database = Database(url)
    with database.sessions() as session:
        indexed = 0
        while True:
            done = refresh_search_index(session, batch=5000)
            session.commit()
            indexed += done
            if not done:
                break
        create_user(session, "desk", "bench-password-1", admin=True)
        session.commit()
    database.dispose()
    print(f"\n{label}: {ARTICLES:,} articles stored and indexed in {time.perf_counter() - started:.0f} s")
    served = _Served(folder / "config", url)
    try:
        with httpx.Client(base_url=served.server.url, timeout=60, follow_redirects=False) as client:
            answer = client.post("/login", json={"username": "desk", "password": "bench-password-1"})
            csrf = answer.json()["csrf_token"]
            print(f"  {'page':<46} {'median':>8} {'slowest':>8}")
            for path in PAGES:
                path = path.format(article=article)
                _timed(client, "GET", path)
                runs = [_timed(client, "GET", path) for _ in range(5)]
                assert all(status == 200 for _, status in runs), (path, runs)
                times = [t for t, _ in runs]
                verdict = "ok" if statistics.median(times) < 0.2 else "SLOW"
                print(
                    f"  {path:<46} {statistics.median(times) * 1e3:>6.0f}ms {max(times) * 1e3:>6.0f}ms  {verdict}"
                )
            for query in (
                "roscosmos OR soyuz",
                'deorbit* AND (station OR "space station")',
                "leak* NEAR/5 zvezda",
            ):
                body = {"query": query, "since": "30d", "samples": 8}
                _timed(client, "POST", "/api/v1/rules/test", json=body, headers={"X-CSRF-Token": csrf})
                runs = [
                    _timed(client, "POST", "/api/v1/rules/test", json=body, headers={"X-CSRF-Token": csrf})
                    for _ in range(3)
                ]
                times = [t for t, _ in runs]
                print(
                    f"  editor preview {query!r:<31} {statistics.median(times) * 1e3:>6.0f}ms {max(times) * 1e3:>6.0f}ms  (target < 1 s)"
                )
    finally:
        served.stop()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="newswatch-pages-") as tmp:
        folder = Path(tmp)
        _config(folder / "config")
        bench(f"sqlite:///{folder / 'pages.db'}", "SQLite", folder)
        postgres = os.environ.get("NEWSWATCH_TEST_DATABASE_URL")
        if postgres:
            name = f"nw_bench_pages_{os.getpid()}"
            admin = create_engine(
                make_url(postgres).set(drivername="postgresql+psycopg", database="postgres"),
                isolation_level="AUTOCOMMIT",
            )
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                bench(
                    make_url(postgres).set(database=name).render_as_string(hide_password=False),
                    "PostgreSQL",
                    folder,
                )
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
