"""The outbox: matches and alerts written together, one alert per (subscriber, story),
duplicates impossible by schema and under racing processes (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alert_helpers import add_article, compiled_rules, write_config
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from alerts.delivery.outbox import destination_key, legacy_destination_key, process_new_articles
from newswatch.core.entity_store import installation_secret
from newswatch.core.models import Alert, AlertSighting, Article, Delivery, Match, Story

DEORBIT_TEXT = "NASA and Roscosmos discussed how to deorbit the ISS at the end of the decade."
SECRET = "p4ss-w0rd-xyz"


@pytest.fixture
def config(tmp_path: Path):
    return write_config(
        tmp_path / "config",
        [
            {
                "name": "ops-desk",
                "notify": [
                    f"mailto://ops:{SECRET}@127.0.0.1:2525?mode=insecure&from=nw@example.org&to=o@example.org",
                    "json://127.0.0.1:8080/hook",
                ],
                "rules": ["roscosmos", "iss-deorbit"],
            },
            {"name": "moon-desk", "notify": ["json://127.0.0.1:8080/moon"], "rules": ["artemis"]},
            {
                "name": "weekly",
                "notify": ["json://127.0.0.1:8080/weekly"],
                "rules": ["roscosmos"],
                "digest": "every 1h",
            },
        ],
    )


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_article_matching_two_rules_gives_one_alert_listing_both(sessions, config) -> None:
    with sessions() as session:
        article = add_article(session, "Roscosmos on ISS deorbit plans", DEORBIT_TEXT, source_name="tass-en")
        assert process_new_articles(session, config, compiled_rules(config)) == 1

        alert = session.scalars(select(Alert).where(Alert.subscriber == "ops-desk")).one()
        assert alert.rules == ["roscosmos", "iss-deorbit"]
        assert alert.article_id == article.id and alert.story_id == article.story_id
        destinations = sorted(d.destination for d in alert.deliveries)
        assert len(destinations) == 2 and all(d.status == "pending" for d in alert.deliveries)
        assert not any(SECRET in d for d in destinations), destinations
        secret = installation_secret(session)
        assert {d.destination_key for d in alert.deliveries} == {
            destination_key(url, secret) for url in config.subscriber("ops-desk").notify
        }
        # Keyed: the plain hash of a guessed URL finds nothing in a copied database.
        assert not {d.destination_key for d in alert.deliveries} & {
            legacy_destination_key(url) for url in config.subscriber("ops-desk").notify
        }
        rules = set(session.scalars(select(Match.rule).where(Match.article_id == article.id)))
        assert rules == {"roscosmos", "iss-deorbit"}
        session.refresh(article)
        assert article.matched_at is not None
        # moon-desk's rule did not match; it gets nothing.
        assert count(session, Alert, Alert.subscriber == "moon-desk") == 0


def test_near_duplicate_of_alerted_story_is_a_sighting_not_a_second_alert(sessions, config) -> None:
    with sessions() as session:
        first = add_article(session, "Roscosmos to deorbit ISS", DEORBIT_TEXT, source_name="tass-en")
        story = session.get(Story, first.story_id)
        process_new_articles(session, config, compiled_rules(config))
        second = add_article(
            session, "Roscosmos: ISS deorbit", DEORBIT_TEXT, source_name="nasa-news", story=story
        )
        third = add_article(
            session, "ISS deorbit, says Roscosmos", DEORBIT_TEXT, source_name="esa-news", story=story
        )
        assert process_new_articles(session, config, compiled_rules(config)) == 2

        alert = session.scalars(select(Alert).where(Alert.subscriber == "ops-desk")).one()
        sighted = set(
            session.scalars(select(AlertSighting.article_id).where(AlertSighting.alert_id == alert.id))
        )
        assert sighted == {second.id, third.id}
        assert count(session, Delivery, Delivery.alert_id == alert.id) == 2


def test_backfill_article_is_matched_but_never_alerts(sessions, config) -> None:
    with sessions() as session:
        old = add_article(session, "Roscosmos archive piece", DEORBIT_TEXT, alertable=False)
        assert process_new_articles(session, config, compiled_rules(config)) == 1
        assert count(session, Match, Match.article_id == old.id) == 2
        assert count(session, Alert) == 0
        assert count(session, Delivery) == 0


def test_digest_subscriber_alert_waits_without_deliveries(sessions, config) -> None:
    with sessions() as session:
        add_article(session, "Roscosmos budget", "Roscosmos gets a new budget.")
        process_new_articles(session, config, compiled_rules(config))
        waiting = session.scalars(select(Alert).where(Alert.subscriber == "weekly")).one()
        assert waiting.deliveries == [] and waiting.digest_id is None
        assert count(session, Alert, Alert.subscriber == "ops-desk") == 1


def test_second_pass_finds_nothing_to_do(sessions, config) -> None:
    with sessions() as session:
        add_article(session, "Roscosmos budget", "Roscosmos gets a new budget.")
        assert process_new_articles(session, config, compiled_rules(config)) == 1
        assert process_new_articles(session, config, compiled_rules(config)) == 0
        assert count(session, Alert) == 2


def test_unmatched_article_is_marked_matched_without_alerts(sessions, config) -> None:
    with sessions() as session:
        article = add_article(session, "Weather on Mars", "Dust storms continue.")
        assert process_new_articles(session, config, compiled_rules(config)) == 1
        session.refresh(article)
        assert article.matched_at is not None and count(session, Alert) == 0


def test_matches_and_alerts_roll_back_together_when_matching_fails(sessions, config) -> None:
    """A crash in the middle of a batch leaves no half-written alerts: everything is matched again."""
    real = compiled_rules(config)

    class Crashing:
        calls = 0

        def match(self, title, text, source_name):
            Crashing.calls += 1
            if Crashing.calls == 3:
                raise RuntimeError("process died here")
            return real.match(title, text, source_name)

    with sessions() as session:
        for n in range(4):
            add_article(session, f"Roscosmos news {n}", "Roscosmos said something.")
        with pytest.raises(RuntimeError):
            process_new_articles(session, config, Crashing())
        session.rollback()
    with sessions() as session:
        assert count(session, Alert) == 0 and count(session, Match) == 0
        assert count(session, Article, Article.matched_at.is_(None)) == 4
        assert process_new_articles(session, config, real) == 4
        assert count(session, Alert, Alert.subscriber == "ops-desk") == 4


def test_duplicates_are_rejected_by_the_schema(sessions, config) -> None:
    with sessions() as session:
        article = add_article(session, "Roscosmos budget", "Roscosmos gets a new budget.")
        process_new_articles(session, config, compiled_rules(config))
        alert = session.scalars(select(Alert).where(Alert.subscriber == "ops-desk")).one()
        delivery = alert.deliveries[0]
        duplicates = [
            Alert(
                subscriber="ops-desk", story_id=article.story_id, article_id=article.id, rules=["roscosmos"]
            ),
            Delivery(
                alert_id=alert.id,
                subscriber="ops-desk",
                destination="x",
                destination_key=delivery.destination_key,
            ),
            Match(article_id=article.id, rule="roscosmos"),
        ]
        for row in duplicates:
            with pytest.raises(IntegrityError):
                with session.begin_nested():
                    session.add(row)
                    session.flush()
            session.rollback()


def test_alert_already_written_by_another_process_becomes_a_sighting(sessions, config) -> None:
    """The other process won the race for (subscriber, story): our insert hits the UNIQUE
    constraint, is rolled back to its savepoint, and the article is recorded as a sighting."""
    with sessions() as session:
        theirs = add_article(session, "Roscosmos and the ISS", DEORBIT_TEXT, source_name="tass-en")
        ours = add_article(
            session,
            "Roscosmos, ISS",
            DEORBIT_TEXT,
            source_name="nasa-news",
            story=session.get(Story, theirs.story_id),
        )
        theirs_id, ours_id, story_id = theirs.id, ours.id, theirs.story_id
    with sessions() as other:  # "another process": its alert is committed, its article already matched
        other.add(Alert(subscriber="ops-desk", story_id=story_id, article_id=theirs_id, rules=["roscosmos"]))
        other.get(Article, theirs_id).matched_at = other.get(Article, theirs_id).fetched_at
        other.commit()
    with sessions() as session:
        assert process_new_articles(session, config, compiled_rules(config)) == 1
        alerts = session.scalars(select(Alert).where(Alert.subscriber == "ops-desk")).all()
        assert len(alerts) == 1 and alerts[0].article_id == theirs_id
        assert session.scalars(select(AlertSighting.article_id)).all() == [ours_id]


def test_racing_matchers_write_each_alert_once(sessions, config) -> None:
    """Three matcher threads (own sessions, own transactions) on the same 24 articles of 8 stories."""
    with sessions() as session:
        for s in range(8):
            story = Story(title=f"story {s}")
            session.add(story)
            session.flush()
            for source_name in ("tass-en", "nasa-news", "esa-news"):
                add_article(
                    session,
                    f"Roscosmos item {s}",
                    f"Roscosmos statement number {s}.",
                    source_name=source_name,
                    story=story,
                )
    errors: list[BaseException] = []
    start = threading.Barrier(3, timeout=30)

    def worker() -> None:
        try:
            start.wait()
            with sessions() as session:
                process_new_articles(session, config, compiled_rules(config), batch_size=5)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with sessions() as session:
        assert count(session, Article, Article.matched_at.is_(None)) == 0
        assert count(session, Match) == 24
        for subscriber in ("ops-desk", "weekly"):
            assert count(session, Alert, Alert.subscriber == subscriber) == 8
        assert count(session, AlertSighting) == 2 * 16
        assert count(session, Delivery) == 8 * 2
