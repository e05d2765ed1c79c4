"""Crawl benchmark: a few thousand article fetches from the fixture news site, end to end.

Eight fixture sites (127.0.0.1 … 127.0.0.8, each its own Scrapy download slot, like eight
news domains) run in a separate process and publish `ARTICLES` generated articles between
them (distinct bodies, ~30 KB pages with boilerplate). Printed:

- end to end: new articles/s for fetch + extract + store, polling the eight feed sources
  concurrently with the production politeness settings (2 requests per domain, AutoThrottle,
  robots.txt), extraction in the process pool, SQLite;
- raw Scrapy: pages/s fetching the same article URLs with the same settings, nothing else;
- CPU per article (the figure to judge changes by on a shared machine): the crawling process
  (all its threads), the worker processes (whole processes, from /proc; in brackets the part
  inside ingest(), extraction + storage) and the fixture sites, and the ceiling they imply;
- extraction: ms/page inside the workers (mean, median, p95);
- fetches per new article (article requests the sites saw / new articles), and the cost of a
  second poll of the unchanged sources (should be one 304 per source);
- peak memory: the crawling process and the largest extraction worker (max RSS).

Target: >= 80 articles/s end to end on this machine. The 2 cores are shared with
the fixture sites' process, so the figures are a floor for a real deployment.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ARTICLES = int(os.environ.get("BENCH_CRAWL_ARTICLES", 2400))
SITES = int(os.environ.get("BENCH_CRAWL_SITES", 8))
# BENCH_CRAWL_QUICK=1: the end-to-end poll only (no second poll, no raw Scrapy fetch), for
# alternating A/B runs on a shared machine.
QUICK = os.environ.get("BENCH_CRAWL_QUICK", "") not in ("", "0")
PAGE_PADDING = 24_000  # bytes of inline script per page, for a realistic page weight
SEED = 20261126
REAL_PAGES = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "articles" / "html"
TESTS = Path(__file__).resolve().parents[1] / "tests"

_WORDS = (
    "orbit station module crew launch engineers review budget contract lander rover probe telescope "
    "mission schedule agency partners cargo docking thruster propellant booster payload satellite "
    "antenna mirror instrument sample capsule parachute shield countdown simulation hardware software "
    "controllers ground teams tracking radar debris solar array radiator airlock hatch spacesuit "
    "experiment laboratory microgravity committee senators funding proposal industry analysts officials "
    "delay milestone test campaign vehicle reentry altitude maneuver segment cosmonaut astronaut"
).split()


def _fixture_site():
    """tests/fixture_site.py: the fixture news site (request log, page padding, raw pages)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import fixture_site

    return fixture_site


def _articles(site_index: int, count: int, now: datetime):
    from newswatch.demo.site import DemoArticle

    rng = random.Random(SEED + site_index)
    articles = []
    for i in range(count):
        paragraphs = [
            " ".join(rng.choice(_WORDS) for _ in range(rng.randint(45, 80))).capitalize() + "."
            for _ in range(rng.randint(4, 7))
        ]
        articles.append(
            DemoArticle(
                slug=f"s{site_index}-story-{i}",
                title=" ".join(rng.choice(_WORDS) for _ in range(7)).capitalize(),
                paragraphs=paragraphs,
                published=now - timedelta(minutes=i),
                summary=paragraphs[0][:150],
                author="Bench Writer",
                related=["Roscosmos confirms ISS deorbit timeline", "Why the deorbit vehicle matters"],
            )
        )
    return articles


def _real_articles(site_index: int, count: int, now: datetime):
    """Return `count` articles whose pages are the real shared pages, cycled: each copy has its
    own URL, so it is fetched, extracted and stored (as a new article, or as a duplicate of the
    earlier copy with the same text)."""
    import gzip

    FixtureArticle = _fixture_site().FixtureArticle

    pages = sorted(REAL_PAGES.glob("*.html.gz"))
    articles = []
    for i in range(count):
        page = pages[(site_index * count + i) % len(pages)]
        articles.append(
            FixtureArticle(
                slug=f"s{site_index}-real-{i}",
                title=f"Real page {page.name[:12]}",
                paragraphs=["(served from the shared real pages)"],
                published=now - timedelta(minutes=i),
                raw_html=gzip.decompress(page.read_bytes()),
                declare_charset="none",
            )
        )
    return articles


def serve(count: int, conn, real: bool = False) -> None:
    """The fixture sites' process: start them, report their URLs, report hits when asked."""
    NewsSite = _fixture_site().NewsSite

    now = datetime.now(UTC)
    per_site = count // SITES
    make = _real_articles if real else _articles
    sites = [
        NewsSite(make(i, per_site, now), host=f"127.0.0.{i + 1}", page_padding=PAGE_PADDING).start()
        for i in range(SITES)
    ]
    conn.send([s.url for s in sites])
    while True:
        command = conn.recv()
        if command == "stop":
            break
        if command == "urls":
            conn.send([s.url + a.path for s in sites for a in s.articles])
        elif command == "hits":
            conn.send(
                {
                    "articles": sum(1 for s in sites for r in s.requests if r.path.startswith("/articles/")),
                    "statuses": [r.status for s in sites for r in s.requests if r.path == "/feed.xml"],
                }
            )
        elif command == "cpu":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            conn.send(usage.ru_utime + usage.ru_stime)
        elif command == "clear":
            for s in sites:
                s.clear_log()
            conn.send("ok")
    for s in sites:
        s.stop()


def _write_config(directory: Path, urls: list[str], per_site: int):
    import yaml

    from newswatch.app import load_checked_config

    directory.mkdir(parents=True, exist_ok=True)
    sources = [
        {"name": f"site-{i}", "feed": f"{url}/feed.xml", "allow_private": True, "max_articles": per_site}
        for i, url in enumerate(urls)
    ]
    (directory / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))
    (directory / "rules.yaml").write_text("rules: []\n")
    (directory / "subscribers.yaml").write_text("subscribers: []\n")
    return load_checked_config(directory)


BENCH_SETTINGS = {"AUTOTHROTTLE_START_DELAY": 0.0, "LOG_ENABLED": False}


async def _raw_fetch(urls: list[str], settings) -> tuple[int, float]:
    """Fetch `urls` with plain Scrapy (same settings, no pipeline); return (pages, seconds)."""
    import scrapy
    from scrapy.crawler import CrawlerRunner
    from scrapy.utils.defer import deferred_to_future

    fetched = [0]

    class RawSpider(scrapy.Spider):
        name = "raw"
        allow_private = True

        async def start(self):
            for url in urls:
                yield scrapy.Request(url, callback=self.parse, dont_filter=True)

        def parse(self, response):
            fetched[0] += 1

    raw_settings = settings.copy()
    raw_settings.set("ITEM_PIPELINES", {})
    runner = CrawlerRunner(raw_settings)
    started = time.perf_counter()
    await deferred_to_future(runner.crawl(RawSpider))
    return fetched[0], time.perf_counter() - started


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _worker_pids(manager) -> list[int]:
    executor = manager.context.pool._executor
    return [p.pid for p in list(getattr(executor, "_processes", {}).values())]


def _process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a live process, from /proc; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker_peak_rss_mb(manager) -> float:
    peaks = []
    executor = manager.context.pool._executor
    for process in list(getattr(executor, "_processes", {}).values()):
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=0.0)


def main(real: bool = False) -> None:
    """Run the benchmark on generated pages, or (`real`) on the shared real pages, end to end only."""
    from crawler.runner import CrawlManager, _ensure_reactor_running, reactor_event_loop
    from newswatch.core.db import Database, upgrade

    loop = reactor_event_loop()
    _ensure_reactor_running()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=serve, args=(ARTICLES, child, real), daemon=True)
    server.start()
    urls = parent.recv()
    per_site = ARTICLES // SITES
    workdir = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    config = _write_config(workdir / "config", urls, per_site)
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(database_url)
    if real:
        print(
            f"{SITES} fixture sites serving the {len(list(REAL_PAGES.glob('*.html.gz')))} shared real pages "
            f"under {per_site * SITES} URLs; cores: {os.cpu_count()}"
        )
    else:
        print(
            f"{SITES} fixture sites, {per_site * SITES} articles, pages ~{PAGE_PADDING // 1000 + 6} KB; "
            f"cores: {os.cpu_count()}"
        )

    extract_ms: list[float] = []
    worker_ms: list[float] = []
    worker_cpu: dict[int, float] = {}  # worker pid -> its CPU seconds at its latest page

    def progress(event: str, data: dict) -> None:
        if event == "article" and "extract_ms" in data:
            extract_ms.append(data["extract_ms"])
            worker_ms.append(data["cpu_ms"])
            if "worker" in data:
                pid, cpu = data["worker"]
                worker_cpu[pid] = max(cpu, worker_cpu.get(pid, 0.0))

    manager = CrawlManager(config, Database(database_url), progress=progress, scrapy_settings=BENCH_SETTINGS)
    try:
        # Let the workers start (a one-time cost per process) before the clock starts.
        loop.run_until_complete(
            manager.context.extract("<html><body><p>warm</p></body></html>", "http://w/", None)
        )
        time.sleep(1.0)  # the pool starts its workers in the background
        worker_cpu_before = {pid: _process_cpu(pid) or 0.0 for pid in _worker_pids(manager)}
        load_before = os.getloadavg()[0]
        parent.send("cpu")
        server_cpu = parent.recv()
        main_cpu = _cpu(resource.RUSAGE_SELF)
        started = time.perf_counter()
        summaries = loop.run_until_complete(asyncio.gather(*(manager.poll(s.name) for s in config.sources)))
        elapsed = time.perf_counter() - started
        new = sum(s.new for s in summaries)
        if real:  # copies of one page share its text: stored as duplicates, at the same cost
            new += sum(s.duplicates for s in summaries)
        errors = sum(s.errors for s in summaries)
        parent.send("hits")
        hits = parent.recv()
        parent.send("cpu")
        server_cpu = parent.recv() - server_cpu
        main_cpu = _cpu(resource.RUSAGE_SELF) - main_cpu
        # Whole worker processes: each one's CPU now (or at its last page, if it was recycled
        # meanwhile) minus before the poll (0 for workers started during it) — IPC, batching,
        # feed parsing and recycling included; the in-task figure covers ingest() only.
        for pid in set(worker_cpu) | set(worker_cpu_before) | set(_worker_pids(manager)):
            now = _process_cpu(pid)
            worker_cpu[pid] = max(now or 0.0, worker_cpu.get(pid, 0.0))
        workers_cpu = sum(cpu - worker_cpu_before.get(pid, 0.0) for pid, cpu in worker_cpu.items())
        in_task_cpu = sum(worker_ms) / 1000
        worker_peak = _worker_peak_rss_mb(manager)
        print(
            f"end to end (fetch + extract + store): {new} {'pages' if real else 'new articles'} in {elapsed:.1f}s = {new / elapsed:.1f} {'pages' if real else 'articles'}/s"
            f"  (errors {errors}, load average before {load_before:.1f})"
        )
        per_article = 1000 * (main_cpu + workers_cpu + server_cpu) / max(new, 1)
        print(
            f"CPU per article: crawling process {1000 * main_cpu / max(new, 1):.1f} ms, workers (extract + store) "
            f"{1000 * workers_cpu / max(new, 1):.1f} ms [{1000 * in_task_cpu / max(new, 1):.1f} inside ingest()], "
            f"fixture sites {1000 * server_cpu / max(new, 1):.1f} ms "
            f"= {per_article:.1f} ms -> at most {1000 * (os.cpu_count() or 1) / per_article:.0f} articles/s "
            f"on {os.cpu_count()} idle cores (used {(main_cpu + workers_cpu + server_cpu) / elapsed:.2f} cores)"
        )
        print(
            f"fetches per new article: {hits['articles'] / max(new, 1):.3f} ({hits['articles']} article requests)"
        )
        if extract_ms:
            ordered = sorted(extract_ms)
            print(
                f"extraction: {statistics.fmean(ordered):.1f} ms/page mean, {statistics.median(ordered):.1f} median, "
                f"{ordered[int(len(ordered) * 0.95) - 1]:.1f} p95 (in a worker; {manager.context.pool.workers} workers)"
            )

        if QUICK or real:
            return
        parent.send("clear")
        parent.recv()
        started = time.perf_counter()
        again = loop.run_until_complete(asyncio.gather(*(manager.poll(s.name) for s in config.sources)))
        second = time.perf_counter() - started
        parent.send("hits")
        hits = parent.recv()
        print(
            f"second poll of the unchanged sources: {sum(s.fetched for s in again)} fetches "
            f"({sum(s.not_modified for s in again)} were 304), {hits['articles']} article requests, {second:.2f}s"
        )

        parent.send("urls")
        article_urls = parent.recv()
        raw_cpu = _cpu(resource.RUSAGE_SELF)
        pages, seconds = loop.run_until_complete(_raw_fetch(article_urls, manager.settings))
        raw_cpu = _cpu(resource.RUSAGE_SELF) - raw_cpu
        print(
            f"raw Scrapy fetch of the same pages: {pages} pages in {seconds:.1f}s = {pages / seconds:.1f} pages/s "
            f"({1000 * raw_cpu / max(pages, 1):.1f} ms CPU/page in the crawling process)"
        )
    finally:
        loop.run_until_complete(manager.close())
        parent.send("stop")
        server.join(10)
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: crawling process {main_peak:.0f} MB, largest extraction worker {worker_peak:.0f} MB")
    print(f"target: >= 80 articles/s end to end -> {'met' if new / elapsed >= 80 else 'NOT met'}")


if __name__ == "__main__":
    main()
