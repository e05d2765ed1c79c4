"""Building blocks for the alert tests: a config directory written from Python, and stored
articles as the crawler would leave them (story set, matched_at NULL)."""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from newswatch.app import load_checked_config
from newswatch.core.config import Config
from newswatch.core.models import Article, Source, Story, utcnow

SOURCES = ["nasa-news", "tass-en", "esa-news"]

DEFAULT_RULES = [
    {"name": "roscosmos", "query": 'Roscosmos OR "Russian space agency"'},
    {"name": "iss-deorbit", "query": 'deorbit* AND (ISS OR "International Space Station")'},
    {"name": "artemis", "query": "Artemis"},
]

# Short backoff so retry tests take a second, not an hour.
FAST_DELIVERY = {
    "max_attempts": 5,
    "backoff_initial": "0.05s",
    "backoff_max": "0.2s",
    "lease": "2m",
    "timeout": "5s",
}

_counter = itertools.count(1)


def write_config(
    directory: Path,
    subscribers: list[dict],
    *,
    rules: list[dict] | None = None,
    delivery: dict | None = None,
    templates: str | None = None,
    files: dict[str, str] | None = None,
) -> Config:
    """Write sources/rules/subscribers/settings YAML into `directory` and return the loaded config."""
    directory.mkdir(parents=True, exist_ok=True)
    sources = [{"name": name, "feed": f"https://{name}.example.org/feed", "every": "10m"} for name in SOURCES]
    settings: dict = {"delivery": {**FAST_DELIVERY, **(delivery or {})}}
    if templates:
        settings["templates"] = templates
    documents = {
        "sources.yaml": {"sources": sources},
        "rules.yaml": {"rules": rules or DEFAULT_RULES},
        "subscribers.yaml": {"subscribers": subscribers},
        "settings.yaml": settings,
    }
    for name, document in documents.items():
        (directory / name).write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    for name, text in (files or {}).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return load_checked_config(directory)


def source(session: Session, name: str = "nasa-news") -> Source:
    """Return the Source row `name`, created on first use."""
    row = session.scalar(select(Source).where(Source.name == name))
    if row is None:
        row = Source(name=name, kind="feed", url=f"https://{name}.example.org/feed")
        session.add(row)
        session.flush()
    return row


def add_article(
    session: Session,
    title: str,
    text: str = "",
    *,
    source_name: str = "nasa-news",
    story: Story | None = None,
    alertable: bool = True,
    published_at: datetime | None = None,
    url: str | None = None,
) -> Article:
    """Store an article the way the crawler does (its own story unless `story` is given); commits."""
    n = next(_counter)
    url = url or f"https://{source_name}.example.org/news/{n}"
    if story is None:
        story = Story(title=title)
        session.add(story)
        session.flush()
    article = Article(
        source_id=source(session, source_name).id,
        story_id=story.id,
        canonical_url=url,
        url=url,
        title=title,
        text=text,
        content_hash=hashlib.sha256(f"{title}\n{text}\n{n}".encode()).hexdigest(),
        alertable=alertable,
        published_at=published_at or utcnow(),
    )
    session.add(article)
    session.commit()
    return article


def compiled_rules(config: Config):
    """The real compiled matcher for the config's rules."""
    from alerts.rules.compiled import compile_rules

    return compile_rules(config.rules)
