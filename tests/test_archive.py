"""The archive search on SQLite and PostgreSQL: the index prefilter never drops a true match,
results are exactly the rule's, the index follows edits; `newswatch articles` and `rules test`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts.rules.archive import SearchStats, refresh_search_index, search
from alerts.rules.compiled import compile_query
from newswatch.core.db import session_scope
from newswatch.core.errors import UserError
from newswatch.core.models import Article, ArticleSearch, Source

REPO = Path(__file__).resolve().parent.parent
# Midday, so that "n days ago minus a few minutes" never crosses midnight (day labels are UTC).
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)

TRICKY = [
    ("Roscosmos’s chief visits Baïkonur", "Talks on the ISS deorbit vehicle."),
    ("РОСКОСМОС объявил о запуске", "Экипаж полетит на МКС. Ёлка на орбите."),
    ("Missile test", "Mission control reported nothing about the station."),
    ("De-orbit plans", "NASA plans to de-orbit the International\nSpace Station by 2030."),
    ("Cafe\u0301 society", "The Roscos\u00admos press office; the BAIKONUR cosmodrome."),
    ("Long words", "x" * 150 + " and " + "y" * 120 + "z"),
    ("Iss the cat", "iss, Iss and Nasa in lower case"),
    ("NASA and Roscosmos", "crew launch soon; the crew will launch in May"),
]
QUERIES = [
    "roscosmos",
    "Роскосмос*",
    "baikonur",
    "Baïkonur",
    "ISS",
    "=ISS",
    "deorb*",
    "de-orbit",
    '"international space station"',
    "елка OR ёлка",
    "запуск* AND =МКС",
    "title:roscosmos",
    "text:roscosmos",
    "NASA NEAR/3 orbit",
    "mission NOT missile",
    "station NOT title:missile",
    "café OR cafe",
    "x" * 150,
    "x" * 120 + "*",
    "y" * 120 + "z",
    "crew NEAR/1 launch",
    "=Nasa",
    "(nasa OR roscosmos) AND NOT crew",
]


def _add_articles(
    sessions, items: list[tuple[str, str]], source: str = "nasa-news", days: int = 0
) -> list[int]:
    ids = []
    with session_scope(sessions) as session:
        src = session.scalar(select(Source).where(Source.name == source))
        if src is None:
            src = Source(name=source, kind="feed", url=f"https://{source}.example/feed")
            session.add(src)
        for offset, (title, text) in enumerate(items):
            url = f"https://{source}.example/{len(ids)}-{abs(hash((title, text, days)))}"
            article = Article(
                source=src,
                canonical_url=url,
                url=url,
                title=title,
                text=text,
                content_hash=f"{len(ids):064d}",
                published_at=NOW - timedelta(days=days, minutes=offset),
            )
            session.add(article)
            session.flush()
            ids.append(article.id)
    return ids


def _brute_force(sessions, query: str) -> set[int]:
    compiled = compile_query(query)
    with sessions() as session:
        rows = session.execute(select(Article.id, Article.title, Article.text)).all()
    return {row.id for row in rows if compiled.match_names(row.title, row.text)}


@pytest.mark.parametrize("query", QUERIES)
def test_search_returns_exactly_what_the_rule_matches(sessions, query: str) -> None:
    _add_articles(sessions, TRICKY)
    with sessions() as session:
        stats = SearchStats()
        found = {hit.article_id for hit in search(session, query, stats=stats)}
    assert found == _brute_force(sessions, query)
    assert stats.candidates >= stats.matched


def test_search_finds_accents_cyrillic_case_and_prefixes_through_the_index(sessions) -> None:
    _add_articles(sessions, TRICKY)
    with sessions() as session:
        titles = lambda q: [hit.title for hit in search(session, q)]  # noqa: E731
        assert titles("baikonur") == ["Roscosmos’s chief visits Baïkonur", "Cafe\u0301 society"]
        assert titles("роскосмос") == ["РОСКОСМОС объявил о запуске"]
        assert titles("елка") == ["РОСКОСМОС объявил о запуске"]
        assert titles("roscosmos") == [
            "Roscosmos’s chief visits Baïkonur",
            "Cafe\u0301 society",
            "NASA and Roscosmos",
        ]
        assert titles("cafe") == ["Cafe\u0301 society"]
        assert titles("=ISS") == ["Roscosmos’s chief visits Baïkonur"]
        assert titles('"de-orbit" AND "space station"') == ["De-orbit plans"]


def test_the_prefilter_narrows_the_candidates(sessions) -> None:
    _add_articles(sessions, TRICKY)
    with sessions() as session:
        stats = SearchStats()
        assert [h.title for h in search(session, '"international space station"', stats=stats)] == [
            "De-orbit plans"
        ]
    assert stats.candidates == 1
    assert stats.indexed == len(TRICKY)


def test_an_edited_article_is_found_by_its_new_words_only(sessions) -> None:
    [first] = _add_articles(sessions, [("Plain title", "nothing here")])
    with sessions() as session:
        assert list(search(session, "roscosmos")) == []
        article = session.get(Article, first)
        article.text = "now Roscosmos is mentioned"
        session.commit()
        assert session.get(ArticleSearch, first) is None  # the trigger dropped the stale row
        assert [h.article_id for h in search(session, "roscosmos")] == [first]
        assert list(search(session, "nothing")) == []
        session.delete(session.get(Article, first))
        session.commit()
        assert session.scalars(select(ArticleSearch)).all() == []


def test_lost_sqlite_triggers_are_restored_and_the_index_rebuilt(sqlite_url: str) -> None:
    from sqlalchemy import text

    from newswatch.core.db import make_engine, session_factory

    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    [first] = _add_articles(sessions, [("Plain title", "nothing here")])
    with sessions() as session:
        assert list(search(session, "roscosmos")) == []
        # What a batch-mode migration that rebuilds `articles` would do to them:
        session.execute(text("DROP TRIGGER articles_search_stale"))
        session.execute(text("DROP TRIGGER articles_search_gone"))
        session.get(Article, first).text = "now Roscosmos is mentioned"
        session.commit()
        assert [h.article_id for h in search(session, "roscosmos")] == [first]
        triggers = set(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        assert {"articles_search_stale", "articles_search_gone"} <= triggers
    engine.dispose()


def test_refresh_indexes_only_what_is_missing(sessions) -> None:
    _add_articles(sessions, TRICKY[:3])
    with sessions() as session:
        assert refresh_search_index(session, batch=2) == 3
        assert refresh_search_index(session) == 0
    _add_articles(sessions, TRICKY[3:5], days=1)
    with sessions() as session:
        assert refresh_search_index(session) == 2


def test_since_source_and_limit_filter_newest_first(sessions) -> None:
    _add_articles(sessions, [("ISS old", "x")], days=40)
    _add_articles(sessions, [("ISS new", "x"), ("ISS newer", "x")], days=1)
    _add_articles(sessions, [("ISS elsewhere", "x")], source="tass", days=2)
    with sessions() as session:
        assert [h.title for h in search(session, "iss")] == [
            "ISS new",
            "ISS newer",
            "ISS elsewhere",
            "ISS old",
        ]
        assert [h.title for h in search(session, "iss", since=NOW - timedelta(days=30))] == [
            "ISS new",
            "ISS newer",
            "ISS elsewhere",
        ]
        assert [h.title for h in search(session, "iss", source="tass")] == ["ISS elsewhere"]
        assert [h.title for h in search(session, "iss", limit=1)] == ["ISS new"]


def test_a_malformed_search_query_is_a_user_error_with_the_column(sessions) -> None:
    with sessions() as session, pytest.raises(UserError, match=r"^query: column 9: expected '\)'"):
        list(search(session, "a AND (b"))


def test_search_over_real_pages_equals_the_matcher(sessions, shared_dir: Path) -> None:
    bodies = json.loads(
        (shared_dir / "realworld" / "articles" / "ground-truth.json").read_text(encoding="utf-8")
    )
    items = [
        (entry["articleBody"].split("\n", 1)[0][:200], entry["articleBody"]) for entry in bodies.values()
    ]
    _add_articles(sessions, items)
    queries = [
        "Roscosmos OR Роскосмос* OR NASA",
        '"space station" OR "космическая станция"',
        "launch* NEAR/5 (rocket OR crew*)",
        "=ESA OR Россия*",
        'title:(the OR "в") AND NOT text:and',
    ]
    with sessions() as session:
        refresh_search_index(session)
        for query in queries:
            stats = SearchStats()
            found = {hit.article_id for hit in search(session, query, stats=stats)}
            assert found == _brute_force(sessions, query), query
            assert stats.candidates < len(items) or not found


# ---------------------------------------------------------------------------- commands


def newswatch(config_dir: Path, db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "newswatch", "--config", str(config_dir), "--db", db_url, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


def test_articles_command_lists_matches_with_hits_marked(sessions, db_url: str, config_dir: Path) -> None:
    _add_articles(sessions, TRICKY)
    result = newswatch(config_dir, db_url, "articles", "roscosmos OR Роскосмос", "--limit", "2")
    assert result.returncode == 0, result.stderr
    assert "nasa-news  **Roscosmos**’s chief visits Baïkonur" in result.stdout
    assert "**РОСКОСМОС** объявил о запуске" in result.stdout
    assert "NASA and Roscosmos" not in result.stdout  # --limit 2

    result = newswatch(config_dir, db_url, "articles", '"space station"', "--json")
    [line] = result.stdout.splitlines()
    found = json.loads(line)
    assert found["title"] == "De-orbit plans" and found["source"] == "nasa-news"
    assert found["hits"] == {"text": ["Space\nStation".replace("\n", " ")]}
    assert "**Space Station**" in found["snippet"]


def test_articles_command_rejects_bad_input_in_one_line(sessions, db_url: str, config_dir: Path) -> None:
    _add_articles(sessions, TRICKY[:1])
    for args, message in [
        (("articles", "deorbit AND"), "query: column 12: expected a term after AND"),
        (("articles", "iss", "--since", "soon"), "--since: cannot parse 'soon'"),
        (("articles", "iss", "--source", "nope"), "--source: no articles from a source named 'nope'"),
        (("rules", "test", "NOT iss"), "query: column 1: the query only excludes"),
    ]:
        result = newswatch(config_dir, db_url, *args)
        assert result.returncode == 2, result.stdout
        assert result.stderr.strip().splitlines() == [
            f"newswatch: error: {result.stderr.split('error: ')[1].strip()}"
        ]
        assert message in result.stderr


def test_rules_test_shows_hits_per_day_and_sample_titles(sessions, db_url: str, config_dir: Path) -> None:
    _add_articles(sessions, [("ISS leak found", "a"), ("Another ISS story", "b")], days=1)
    _add_articles(sessions, [("ISS reboost", "c")], days=3)
    _add_articles(sessions, [("Old ISS news", "d")], days=45)
    result = newswatch(config_dir, db_url, "rules", "test", "ISS OR Baïkonur")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "3 matching articles" in out
    day1 = (NOW - timedelta(days=1)).strftime("%Y-%m-%d")
    day3 = (NOW - timedelta(days=3)).strftime("%Y-%m-%d")
    assert any(line.split()[:2] == [day1, "2"] for line in out.splitlines())
    assert any(line.split()[:2] == [day3, "1"] for line in out.splitlines())
    day2 = (NOW - timedelta(days=2)).strftime("%Y-%m-%d")
    assert any(line.split() == [day2, "0"] for line in out.splitlines())  # a quiet day shows as 0
    assert "**ISS** leak found" in out and "**ISS** reboost" in out
    assert "Old ISS news" not in out
    wider = newswatch(config_dir, db_url, "rules", "test", "iss", "--since", "60d")
    assert "4 matching articles" in wider.stdout
