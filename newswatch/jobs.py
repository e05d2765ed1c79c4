"""The blocking halves of the service's periodic jobs: each opens its own transaction, runs in
a worker thread (the service's `_in_thread`) and returns what it did, so the loop only decides
whom to wake. They take what they need as arguments, so the cluster's processes and the
single-process service share them."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from alerts.delivery.digests import close_due_digests
from alerts.delivery.outbox import process_new_articles
from alerts.rules.archive import refresh_search_index
from alerts.rules.compiled import CompiledRules
from newswatch.alarms import raise_source_alarms
from newswatch.core.config import Config
from newswatch.core.db import session_scope
from newswatch.core.models import Article, utcnow
from newswatch.core.schedules import parse_duration

log = logging.getLogger("newswatch.service")


def match_new_articles(sessions: sessionmaker[Session], config: Config, compiled: CompiledRules) -> int:
    """Match stored articles not matched yet and write their alerts; return how many."""
    with session_scope(sessions) as session:
        return process_new_articles(session, config, compiled)


def index_for_search(sessions: sessionmaker[Session], lock: threading.Lock) -> None:
    """Index new articles for `newswatch articles` and `rules test` now, not at the next search."""
    if not lock.acquire(blocking=False):
        return  # another refresh is under way and will pick these articles up
    try:
        with session_scope(sessions) as session:
            refresh_search_index(session)
    except Exception:  # the search index is a convenience; alerts must go on
        log.exception("search index refresh failed")
    finally:
        lock.release()


def close_digests(sessions: sessionmaker[Session], config: Config, on_start: bool) -> int:
    """Close the digests that are due (on start also those of subscribers no longer on one)."""
    with session_scope(sessions) as session:
        return close_due_digests(session, config, utcnow(), on_start=on_start)


def raise_alarms(sessions: sessionmaker[Session], config: Config) -> int:
    with session_scope(sessions) as session:
        return raise_source_alarms(session, config, utcnow())


def drop_old_html(sessions: sessionmaker[Session], config: Config) -> int:
    """Drop the raw HTML older than `retention.raw_html` (the extracted text stays)."""
    cutoff = utcnow() - parse_duration(config.settings.retention.raw_html)
    with session_scope(sessions) as session:
        result = session.execute(
            update(Article)
            .where(Article.fetched_at < cutoff, Article.raw_html.is_not(None))
            .values(raw_html=None)
        )
        return result.rowcount or 0
