"""Polls against the fixture news site: incremental crawling, politeness, hostile pages,
encodings, backfill and the records each poll leaves (real Scrapy, real HTTP, real DB)."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace

import pytest
from crawl_support import article, article_fetches, source, stored, write_config
from fixture_site import FixtureArticle, NewsSite
from sqlalchemy import select

from newswatch.core.db import Database
from newswatch.core.models import ArticleUrl, CrawlRun, HttpCache, Source

pytestmark = pytest.mark.timeout(240)


def feed_config(tmp_path, site: NewsSite, **extra):
    return write_config(tmp_path / "config", [source("desk", "feed", f"{site.url}/feed.xml", **extra)])


def test_first_poll_stores_every_feed_article(tmp_path, site, crawls, sessions) -> None:
    summary = crawls(feed_config(tmp_path, site)).poll("desk")
    assert summary.ok and summary.errors == 0, summary.error_messages
    assert (summary.fetched, summary.new, summary.not_modified) == (16, 15, 0)
    with sessions() as session:
        articles = stored(session)
        by_url = {a.canonical_url: a for a in articles}
    assert len(articles) == 15
    crew = by_url[site.article_url("crew-seat-swap-extended")]
    assert crew.title == "NASA and Roscosmos extend integrated crew flights through 2027"
    assert "integrated crew arrangement" in crew.text
    assert crew.published_at is not None and crew.published_at.tzinfo is not None
    assert crew.matched_at is None, "the matcher picks up articles with matched_at NULL"
    assert crew.story_id is not None
    assert len({a.story_id for a in articles}) == 15, "unrelated articles are separate stories"


def test_raw_html_is_kept(tmp_path, site, crawls, sessions) -> None:
    crawls(feed_config(tmp_path, site)).poll("desk")
    with sessions() as session:
        first = stored(session)[0]
        assert first.raw_html and "<html" in first.raw_html and "Also read" in first.raw_html


def test_unchanged_feed_costs_one_304(tmp_path, site, crawls) -> None:
    run = crawls(feed_config(tmp_path, site))
    run.poll("desk")
    site.clear_log()
    summary = run.poll("desk")
    assert (summary.fetched, summary.not_modified, summary.new, summary.errors) == (1, 1, 0, 0)
    assert [(r.path, r.status) for r in site.requests] == [("/feed.xml", 304)], "robots.txt is cached too"


def test_known_article_is_not_fetched_again(tmp_path, site, crawls) -> None:
    run = crawls(feed_config(tmp_path, site))
    run.poll("desk")
    fresh = article("fresh-news", hours_ago=0.1)
    site.publish(fresh)
    site.clear_log()
    summary = run.poll("desk")
    assert (summary.new, summary.errors) == (1, 0)
    assert [r.path for r in site.requests] == ["/feed.xml", fresh.path]


def test_tracking_parameters_map_to_one_article(tmp_path, site, crawls, sessions) -> None:
    config = write_config(
        tmp_path / "config",
        [
            source("partner", "feed", f"{site.url}/partner/feed.xml"),
            source("desk", "feed", f"{site.url}/feed.xml"),
        ],
    )
    run = crawls(config)
    partner = run.poll("partner")  # links carry utm_*, fbclid and a #fragment
    assert partner.new == 15
    site.clear_log()
    desk = run.poll("desk")
    assert (desk.new, desk.fetched) == (0, 1)
    assert article_fetches(site) == 0
    with sessions() as session:
        assert len(stored(session)) == 15
        crew = site.article_url("crew-seat-swap-extended")
        urls = set(session.scalars(select(ArticleUrl.url)))
        assert crew in urls
        assert any(u.startswith(crew + "?utm_source=partner") for u in urls), "the variant is remembered"
        assert all("utm_" not in a.canonical_url for a in stored(session))


def test_rel_canonical_joins_another_spelling_of_the_article(tmp_path, site, crawls, sessions) -> None:
    original = site.articles[0]
    amp_copy = replace(original, directory="amp", canonical=original.path)
    site.publish(amp_copy)
    site.add_page("/amp/feed.xml", site.rss2([amp_copy], site.url), "application/rss+xml")
    config = write_config(
        tmp_path / "config",
        [source("desk", "feed", f"{site.url}/feed.xml"), source("amp", "feed", f"{site.url}/amp/feed.xml")],
    )
    run = crawls(config)
    run.poll("desk")
    summary = run.poll("amp")
    assert (summary.new, summary.duplicates) == (0, 1)
    with sessions() as session:
        assert len(stored(session)) == 15
        assert site.url + amp_copy.path in set(session.scalars(select(ArticleUrl.url)))
    site.clear_log()
    site.publish(replace(amp_copy, summary="changed"))  # a new feed version, same article
    run.poll("amp")
    assert article_fetches(site) == 0, "the AMP spelling is now known: never fetched again"


def test_fetches_per_new_article_stay_at_one_across_polls(tmp_path, site, crawls) -> None:
    config = write_config(
        tmp_path / "config",
        [
            source("desk", "feed", f"{site.url}/feed.xml"),
            source("partner", "feed", f"{site.url}/partner/feed.xml"),
            source("map", "sitemap", f"{site.url}/sitemap.xml"),
        ],
    )
    run = crawls(config)
    new = 0
    for round_number in range(4):
        for name in ("desk", "partner", "map"):
            new += run.poll(name).new
        site.publish(*(article(f"round-{round_number}-{i}", hours_ago=0.01) for i in range(round_number)))
    for name in ("desk", "partner", "map"):
        new += run.poll(name).new
    assert new == 15 + 0 + 1 + 2 + 3
    assert article_fetches(site) / new <= 1.05


def test_xml_bomb_does_not_stop_the_crawl(tmp_path, site, crawls) -> None:
    config = write_config(
        tmp_path / "config",
        [source("bomb", "feed", f"{site.url}/bomb.xml"), source("desk", "feed", f"{site.url}/feed.xml")],
    )
    bomb, desk = crawls(config).poll_all("bomb", "desk")
    assert not bomb.ok and bomb.errors == 1
    assert "entities" in bomb.error_messages[0]
    assert desk.ok and desk.new == 15


def test_malformed_feed_is_parsed_as_far_as_it_goes(tmp_path, site, crawls, sessions) -> None:
    config = write_config(tmp_path / "config", [source("broken", "feed", f"{site.url}/malformed.xml")])
    summary = crawls(config).poll("broken")
    assert summary.ok and summary.new == 2
    with sessions() as session:
        run = session.scalars(select(CrawlRun)).one()
        assert run.status == "ok"
        assert "warning: malformed feed" in (run.error_summary or "")


@pytest.mark.parametrize("declared", ["header", "meta"])
def test_windows_1251_page_decodes(tmp_path, site, crawls, sessions, declared: str) -> None:
    text = [
        "Роскосмос сообщил, что экипаж Международной космической станции завершил подготовку "
        "к выходу в открытый космос, запланированному на следующую неделю.",
        "Космонавты проверят герметичность люков и заменят оборудование на внешней поверхности "
        "российского сегмента станции.",
    ]
    page = article("kosmos-1251", title="Роскосмос готовит выход в открытый космос", paragraphs=text)
    page = replace(page, charset="windows-1251", declare_charset=declared, language="ru")
    site.publish(page)
    crawls(feed_config(tmp_path, site)).poll("desk")
    with sessions() as session:
        row = next(a for a in stored(session) if a.canonical_url.endswith("kosmos-1251.html"))
    assert row.title == "Роскосмос готовит выход в открытый космос"
    assert "Космонавты проверят герметичность люков" in row.text


@pytest.mark.parametrize("declared", ["header", "meta"])
def test_iso_8859_1_page_decodes(tmp_path, site, crawls, sessions, declared: str) -> None:
    text = [
        "L'Agence spatiale européenne a confirmé la sélection de deux équipes pour l'étude "
        "d'un atterrisseur lunaire capable de livrer du fret à la surface.",
        "Die Raumfahrtbehörde prüft außerdem, ob das Fahrzeug größere Lasten tragen kann; "
        "eine Entscheidung fällt nächstes Jahr.",
    ]
    page = article("esa-latin1", title="Européenne étude lunaire", paragraphs=text)
    site.publish(replace(page, charset="iso-8859-1", declare_charset=declared, language="fr"))
    crawls(feed_config(tmp_path, site)).poll("desk")
    with sessions() as session:
        row = next(a for a in stored(session) if a.canonical_url.endswith("esa-latin1.html"))
    assert row.title == "Européenne étude lunaire"
    assert "Raumfahrtbehörde prüft außerdem" in row.text


def test_429_retry_after_is_honoured(tmp_path, site, crawls) -> None:
    path = site.articles[0].path
    site.behave(path, statuses=[429], retry_after="1")
    summary = crawls(feed_config(tmp_path, site)).poll("desk")
    assert (summary.new, summary.errors) == (15, 0)
    attempts = [r for r in site.requests if r.path == path]
    assert [r.status for r in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.9, "waited for Retry-After"


def test_server_errors_are_retried_then_succeed(tmp_path, site, crawls) -> None:
    path = site.articles[1].path
    site.behave(path, statuses=[500, 503])
    summary = crawls(feed_config(tmp_path, site)).poll("desk")
    assert (summary.new, summary.errors) == (15, 0)
    assert site.statuses(path) == [500, 503, 200]


def test_transient_failure_is_retried_on_the_next_poll(tmp_path, site, crawls) -> None:
    path = site.articles[0].path
    site.behave(path, statuses=[429], retry_after="3600")  # too long to wait for: give up for now
    run = crawls(feed_config(tmp_path, site))
    first = run.poll("desk")
    assert (first.new, first.errors) == (14, 1)
    assert "Retry-After" in first.error_messages[0]
    site.clear_log()
    second = run.poll("desk")
    assert second.new == 1, "the feed's validators were not kept, so the article is found again"
    assert site.statuses("/feed.xml") == [200]


def test_hostile_pages_are_refused_without_stopping_the_crawl(tmp_path, site, crawls, sessions) -> None:
    config = write_config(tmp_path / "config", [source("hostile", "feed", f"{site.url}/hostile/feed.xml")])
    summary = crawls(config).poll("hostile")
    assert summary.ok and summary.new == 2
    messages = "\n".join(summary.error_messages)
    assert summary.errors == 3, messages
    assert "larger than the download size limit" in messages
    assert "forbidden by robots.txt" in messages
    assert "link-local" in messages
    assert site.hits("/private/staff-only.html") == 0
    with sessions() as session:
        assert len(stored(session)) == 2


def test_slow_page_times_out_without_stopping_the_crawl(tmp_path, site, crawls) -> None:
    path = site.articles[2].path
    site.behave(path, delay=3.0)
    summary = crawls(feed_config(tmp_path, site), DOWNLOAD_TIMEOUT=1, RETRY_TIMES=0).poll("desk")
    assert (summary.new, summary.errors) == (14, 1)
    assert summary.error_messages[0].startswith("timed out")


def test_backfill_articles_do_not_alert(tmp_path, site, crawls, sessions) -> None:
    run = crawls(feed_config(tmp_path, site, backfill="24h"))
    run.poll("desk")
    with sessions() as session:
        flags = {a.canonical_url.rsplit("/", 1)[-1]: a.alertable for a in stored(session)}
    assert flags["crew-seat-swap-extended.html"] is True  # 2 hours old
    assert flags["mars-sample-return-costs.html"] is False  # 30 hours old
    assert flags["starliner-thruster-tests.html"] is False  # 60 hours old
    # After the first crawl, whatever appears is news, however old its date says it is.
    site.publish(article("late-find", hours_ago=72))
    run.poll("desk")
    with sessions() as session:
        late = next(a for a in stored(session) if a.canonical_url.endswith("late-find.html"))
        assert late.alertable is True


def test_each_poll_leaves_a_crawl_record_and_source_health(tmp_path, site, crawls, sessions) -> None:
    run = crawls(feed_config(tmp_path, site))
    run.poll("desk")
    with sessions() as session:
        record = session.scalars(select(CrawlRun)).one()
        desk = session.scalars(select(Source)).one()
        assert (record.status, record.pages, record.new_articles, record.errors) == ("ok", 16, 15, 0)
        assert record.finished_at >= record.started_at
        assert desk.first_crawl_at and desk.last_success_at and desk.last_new_article_at
        assert desk.consecutive_failures == 0 and desk.last_error is None
        assert session.scalars(select(HttpCache)).one().etag

    site.behave("/feed.xml", statuses=[404, 404])
    for expected_failures in (1, 2):
        summary = run.poll("desk")
        assert not summary.ok
        with sessions() as session:
            assert session.scalars(select(Source)).one().consecutive_failures == expected_failures
    with sessions() as session:
        desk = session.scalars(select(Source)).one()
        assert desk.consecutive_failures == 2
        assert "HTTP 404" in desk.last_error
        assert session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first().status == "failed"

    run.poll("desk")
    with sessions() as session:
        desk = session.scalars(select(Source)).one()
        assert desk.consecutive_failures == 0 and desk.last_error is None


def test_progress_reports_each_article(tmp_path, site, crawls) -> None:
    run = crawls(feed_config(tmp_path, site))
    run.poll("desk")
    events = [event for event, _ in run.events]
    assert events[0] == "poll-started" and events[-1] == "poll-finished"
    assert sum(1 for event, data in run.events if event == "article" and data["outcome"] == "new") == 15


def test_real_pages_are_crawled_and_stored(tmp_path, crawls, sessions, shared_dir) -> None:
    articles_dir = shared_dir / "realworld" / "articles"
    truth = json.loads((articles_dir / "ground-truth.json").read_text())
    keys = sorted(truth)[:6]
    pages = [
        FixtureArticle(
            slug=key[:16],
            title=f"Real page {key[:8]}",
            paragraphs=[],
            published=article("x").published,
            raw_html=gzip.decompress((articles_dir / "html" / f"{key}.html.gz").read_bytes()),
        )
        for key in keys
    ]
    with NewsSite(pages) as real_site:
        summary = crawls(feed_config(tmp_path, real_site)).poll("desk")
    assert summary.errors == 0, summary.error_messages
    assert summary.new + summary.duplicates == len(keys)
    with sessions() as session:
        texts = {a.canonical_url.rsplit("/", 1)[-1].removesuffix(".html"): a.text for a in stored(session)}
    for key in keys:
        text = texts[key[:16]]  # stored under the fixture URL: a canonical URL on another site is ignored
        expected = set(truth[key]["articleBody"].lower().split())
        found = set(text.lower().split())
        assert len(expected & found) / len(expected) > 0.5, f"{key}: stored text misses the article"


def test_bundled_legacy_encodings_decode(tmp_path, site, crawls, sessions) -> None:
    # The demo site serves one article as windows-1251 (declared only in <meta>) and one as
    # ISO-8859-1 (declared only in the HTTP header).
    crawls(feed_config(tmp_path, site)).poll("desk")
    with sessions() as session:
        rows = {a.canonical_url.rsplit("/", 1)[-1]: a for a in stored(session)}
    assert (
        rows["baikonur-soyuz-podgotovka.html"].title == "На Байконуре завершили подготовку ракеты «Союз-2.1а»"
    )
    assert "Специалисты космодрома Байконур" in rows["baikonur-soyuz-podgotovka.html"].text
    assert (
        rows["esa-lunar-cargo-study.html"].title == "ESA selects two companies for lunar cargo lander study"
    )


def test_crawling_process_collects_garbage_less_often_but_never_more(monkeypatch) -> None:
    import gc

    from crawler import runner

    saved = gc.get_threshold()
    try:
        for before, after in (((700, 10, 10), (5000, 20, 20)), ((10_000, 5, 50), (10_000, 20, 50))):
            gc.set_threshold(*before)
            monkeypatch.setattr(runner, "_gc_tuned", False)
            runner.tune_garbage_collector()
            assert gc.get_threshold() == after
            gc.set_threshold(700, 10, 10)
            runner.tune_garbage_collector()  # once per process
            assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*saved)


def test_a_poll_opens_no_remote_code_execution_server(tmp_path, site, reactor_loop, db_url) -> None:
    # Scrapy's remote control (on by default) would serve an "execute Python" endpoint on
    # localhost during every poll and announce it in a job file.
    import asyncio

    from crawler.runner import CrawlManager

    jobs = tmp_path / "jobs"
    seen: list[list[str]] = []

    def progress(event: str, data: dict) -> None:
        if event == "fetched":
            seen.append(sorted(p.name for p in jobs.glob("*")) if jobs.exists() else [])

    config = write_config(tmp_path / "config", [source("desk", "feed", f"{site.url}/feed.xml")])
    manager = CrawlManager(
        config,
        Database(db_url),
        progress=progress,
        scrapy_settings={"AUTOTHROTTLE_START_DELAY": 0.0, "REMOTE_CONTROL_JOBS_DIR": str(jobs)},
        workers=1,
    )
    try:
        summary = reactor_loop.run_until_complete(asyncio.wait_for(manager.poll("desk"), 90))
    finally:
        reactor_loop.run_until_complete(manager.close())
    assert summary.new == 15 and len(seen) == 16
    assert seen == [[]] * 16


def test_a_poll_whose_workers_fail_is_a_failure_and_keeps_no_validators(
    tmp_path, site, crawls, sessions
) -> None:
    run = crawls(feed_config(tmp_path, site))
    pool = run.manager.context.pool
    pool.timeout = 1e-9  # every task in the worker pool fails (PoolFailed: took longer than…)
    failed = run.poll("desk")
    assert not failed.ok and failed.new == 0
    assert "parsing the feed failed" in failed.error_messages[0]
    with sessions() as session:
        assert session.scalars(select(CrawlRun)).one().status == "failed"
        assert session.scalars(select(HttpCache)).all() == [], "a later poll would get a 304"
    pool.timeout = 60.0
    site.clear_log()
    again = run.poll("desk")
    assert site.statuses("/feed.xml") == [200]
    assert again.ok and again.new == 15


def test_a_poll_in_which_every_article_page_fails_is_a_failure(tmp_path, site, crawls, sessions) -> None:
    for fixture_article in site.articles:
        site.behave(fixture_article.path, statuses=[404] * 3)
    summary = crawls(feed_config(tmp_path, site)).poll("desk")
    assert (summary.ok, summary.new, summary.errors) == (False, 0, 15)
    with sessions() as session:
        assert session.scalars(select(Source)).one().consecutive_failures == 1


def test_a_poll_while_the_database_refuses_connections_fails_quietly_and_fetches_nothing(
    tmp_path, site, crawls, db_url
) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if not db_url.startswith("postgresql"):
        pytest.skip("a database server that refuses connections: the PostgreSQL case")
    postgres_url = db_url
    database = make_url(postgres_url).database
    admin = create_engine(make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    run = crawls(feed_config(tmp_path, site))

    def allow(allowed: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
            if not allowed:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
                    {"db": database},
                )

    try:
        allow(False)
        down = run.poll("desk")
    finally:
        allow(True)
    assert not down.ok and down.new == 0
    assert "cannot record the poll in the database" in down.error_messages[0]
    assert site.hits("/feed.xml") == 0, "a poll that cannot be recorded must not fetch anything"
    back = run.poll("desk")
    assert back.ok and back.new == 15, back.error_messages
    admin.dispose()
