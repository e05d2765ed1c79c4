"""The outbox: new articles → matches → alerts and deliveries, in one transaction.

Contract (README, "Alerts and delivery"):
- Each article whose `matched_at` is NULL is matched once against every rule; its `Match` rows,
  the alerts it causes and `matched_at` are committed together, so a crash leaves either all
  of them or none (the article is then matched again after restart).
- One alert per (subscriber, story), listing every rule of that subscriber that matched. A later
  article of an already-alerted story only adds an `AlertSighting` ("also reported by").
- An instant subscriber's alert gets one `Delivery` per notify URL (destination = the redacted
  URL, destination_key = an HMAC of the real one under the installation's key); a digest subscriber's alert waits for its
  digest (alerts/digests.py).
- Backfill articles (`alertable` False) get matches but never alerts.
- Duplicates are impossible by schema: UNIQUE (subscriber, story_id), (alert_id,
  destination_key), (article_id, rule). Alerts are inserted first inside a SAVEPOINT and a
  unique violation is read as "already there" — that is what makes two processes racing
  on the same story safe. An article itself is claimed with `UPDATE … WHERE matched_at IS NULL`,
  so two processes never both match (or alert from) the same article.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from alerts.delivery.channels import redact_url
from newswatch.core.config import Config, Subscriber
from newswatch.core.db import is_postgres
from newswatch.core.entity_store import installation_secret
from newswatch.core.models import Alert, AlertSighting, Article, Delivery, Match, Story, utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 200


class CompiledRulesLike(Protocol):
    """What the outbox needs from alerts.rules.compiled.CompiledRules."""

    def match(self, title: str, text: str, source_name: str) -> list[Any]: ...


def destination_key(url: str, secret: bytes) -> str:
    """Return the identity of a notify URL in the ledger: an HMAC of the real URL under the
    installation's secret key (never shown; a copied database alone does not let anyone test
    guesses of the URL's password)."""
    return hmac.new(secret, url.encode("utf-8"), hashlib.sha256).hexdigest()


def legacy_destination_key(url: str) -> str:
    """The key of deliveries written before the installation key (plain SHA-256 of the URL)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1024)
def _destination(url: str, secret: bytes) -> tuple[str, str]:
    """Return (redacted URL, key) of a notify URL (Apprise parses it: worth caching)."""
    return redact_url(url), destination_key(url, secret)


def deliveries_for(session: Session, subscriber: Subscriber, now: datetime) -> list[Delivery]:
    """Return one new pending Delivery per distinct notify URL of `subscriber`."""
    secret = installation_secret(session)
    seen: set[str] = set()
    out = []
    for url in subscriber.notify:
        shown, key = _destination(url, secret)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            Delivery(
                subscriber=subscriber.name,
                destination=shown,
                destination_key=key,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return out


def insert_or_skip(session: Session, row: object) -> bool:
    """Insert `row` inside a SAVEPOINT; return False if a unique constraint says it exists."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return True
    except IntegrityError:
        return False


def process_new_articles(
    session: Session,
    config: Config,
    compiled: CompiledRulesLike,
    *,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> int:
    """Return how many unmatched articles were matched (and alerted); commits once per batch."""
    subscribers = [s for s in config.subscribers if s.rules]
    done = 0
    seen: set[int] = set()
    while True:
        ids = [i for i in _next_batch(session, batch_size) if i not in seen]
        if not ids:
            break
        seen.update(ids)
        stamp = now or utcnow()
        articles = _claim(session, ids, stamp)
        existing: dict[int, set[str]] = {}
        for article_id, rule in session.execute(
            select(Match.article_id, Match.rule).where(Match.article_id.in_([a.id for a in articles]))
        ):
            existing.setdefault(article_id, set()).add(rule)
        alerts = sightings = 0
        for article in articles:
            created, sighted = _process_article(
                session, article, existing.get(article.id, set()), subscribers, compiled, stamp
            )
            alerts += created
            sightings += sighted
        done += len(articles)
        session.commit()
        if alerts or sightings:
            log.info(
                "articles matched", extra={"articles": len(ids), "alerts": alerts, "sightings": sightings}
            )
        if len(ids) < batch_size:
            break
    return done


def _next_batch(session: Session, batch_size: int) -> list[int]:
    query = (
        select(Article.id)
        .where(Article.matched_at.is_(None))
        .order_by(Article.fetched_at, Article.id)
        .limit(batch_size)
    )
    if is_postgres(session.get_bind()):
        # Another matcher process working on a batch keeps its rows locked: take the next ones.
        query = query.with_for_update(skip_locked=True, of=Article)
    return list(session.scalars(query))


def _claim(session: Session, ids: list[int], now: datetime) -> list[Article]:
    """Mark the batch matched and return the articles this process won (with their sources).

    The claim is also the first write of the transaction: on SQLite it takes the write lock
    before any SAVEPOINT, so the savepoints below nest inside one real transaction; on
    PostgreSQL a row another matcher claimed first is skipped (its UPDATE waited, then saw
    matched_at set)."""
    claim = (
        update(Article)
        .where(Article.id.in_(ids), Article.matched_at.is_(None))
        .values(matched_at=now)
        .execution_options(synchronize_session=False)
    )
    if session.get_bind().dialect.update_returning:
        won = list(session.scalars(claim.returning(Article.id)))
    else:  # an SQLite older than 3.35: claim one by one
        won = [i for i in ids if session.execute(claim.where(Article.id == i)).rowcount]
    if not won:
        return []
    return list(
        session.scalars(
            select(Article)
            .options(joinedload(Article.source))
            .where(Article.id.in_(won))
            .order_by(Article.fetched_at, Article.id)
            .execution_options(populate_existing=True)
        ).unique()
    )


def _process_article(
    session: Session,
    article: Article,
    existing_rules: set[str],
    subscribers: Iterable[Subscriber],
    compiled: CompiledRulesLike,
    now: datetime,
) -> tuple[int, int]:
    """Record one claimed article's matches and write its alerts; return (alerts, sightings)."""
    results = compiled.match(article.title or "", article.text or "", article.source.name)
    matched: dict[str, Any] = {}
    for result in results:
        matched.setdefault(result.rule, result)
    # Only the process that claimed the article writes its matches; rows can exist already only
    # if the article was queued again on purpose (matched_at reset), and then they are kept.
    session.add_all(
        Match(
            article_id=article.id,
            rule=rule,
            hits=dict(result.hits or {}),
            snippet=result.snippet or "",
            created_at=now,
        )
        for rule, result in matched.items()
        if rule not in existing_rules
    )
    if not matched or not article.alertable:
        return (0, 0)
    story_id = article.story_id if article.story_id is not None else _own_story(session, article, now)
    alerts = sightings = 0
    for subscriber in subscribers:
        rules = [rule for rule in subscriber.rules if rule in matched]
        if not rules:
            continue
        created, sighted = _alert(session, subscriber, story_id, article.id, rules, now)
        alerts += created
        sightings += sighted
    return (alerts, sightings)


def _alert(
    session: Session, subscriber: Subscriber, story_id: int, article_id: int, rules: list[str], now: datetime
) -> tuple[int, int]:
    """Write the (subscriber, story) alert, or a sighting if the story already has one."""
    alert = Alert(
        subscriber=subscriber.name,
        story_id=story_id,
        article_id=article_id,
        rules=rules,
        kind="match",
        created_at=now,
        in_digest=False,
    )
    if subscriber.digest_schedule is None:
        alert.deliveries = deliveries_for(session, subscriber, now)
    if insert_or_skip(session, alert):
        log.debug("alert written", extra={"subscriber": subscriber.name, "story": story_id, "rules": rules})
        return (1, 0)
    existing = session.scalars(
        select(Alert).where(Alert.subscriber == subscriber.name, Alert.story_id == story_id)
    ).one()
    if existing.article_id == article_id:
        return (0, 0)
    sighted = insert_or_skip(
        session, AlertSighting(alert_id=existing.id, article_id=article_id, created_at=now)
    )
    return (0, int(sighted))


def _own_story(session: Session, article: Article, now: datetime) -> int:
    """Give an article the crawler left without a story a story of its own."""
    story = Story(title=article.title, created_at=now)
    session.add(story)
    session.flush()
    article.story_id = story.id
    session.flush()
    return story.id
