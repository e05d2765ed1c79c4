"""Extraction benchmark on the shared real-world pages: quality beside plain trafilatura, speed.

For both sets of ../shared/realworld — `articles` (102 pages, 2019) and `news` (115 pages of 80
publishers, 2023–2026) — prints the word 4-gram F1 / precision / recall of
`../shared/tools/extract_f1.py` for `extract_article` and, measured in the same run on the same
pages, for plain `trafilatura.extract(page_bytes, url=url)` (its defaults, as a new user calls
it). Each set is also scored on two fixed halves:
- articles: "tune" = keys whose last hex digit is even, "held-out" = odd;
- news, split by publisher (the key up to its first "_"): "tune" = publishers whose CRC-32 is
  even, "held-out" = odd. The held-out half was not looked at while tuning the extractor.
Live blogs (pages whose JSON-LD is a LiveBlogPosting, whichever half) are scored on their own too.

Speed: ms/page of `extract_article` in one process, CPU time (the steadier figure on shared
cores) and wall-clock, per set, each page extracted by ours and by plain trafilatura in turn (so
a load that comes and goes weighs on both alike; their ratio is the steady figure); then articles/s through a 2-process pool (how the crawler runs
it) with the load average beside it. Skips with a message when ../shared is absent.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import statistics
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SETS = ("articles", "news")


@dataclass
class Page:
    key: str
    url: str | None
    html: bytes
    truth: str
    live: bool


def tune_half(set_name: str, key: str) -> bool:
    """Return whether a page belongs to the half used for tuning (see the module docstring)."""
    if set_name == "news":
        return zlib.crc32(key.split("_", 1)[0].encode()) % 2 == 0
    return int(key[-1], 16) % 2 == 0


def load_pages(set_name: str) -> list[Page]:
    """Return the set's pages in key order (empty when the set is absent)."""
    root = SHARED / "realworld" / set_name
    if not (root / "ground-truth.json").exists():
        return []
    truth = json.loads((root / "ground-truth.json").read_text())
    pages = []
    for key in sorted(truth):
        html = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        live = b"LiveBlogPosting" in html
        pages.append(Page(key, truth[key].get("url"), html, truth[key]["articleBody"], live))
    return pages


def _scorer() -> Callable[[str, str], tuple[float, float]]:
    spec = importlib.util.spec_from_file_location("extract_f1", SHARED / "tools" / "extract_f1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.page_scores


def summary(scores: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Return (F1, precision, recall) as extract_f1.py computes them: means, then F1."""
    if not scores:
        return (0.0, 0.0, 0.0)
    precision = statistics.mean(p for p, _ in scores)
    recall = statistics.mean(r for _, r in scores)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return (f1, precision, recall)


def _ours(page: Page) -> str:
    from crawler.extract import extract_article

    return extract_article(page.html, page.url).text


def _trafilatura(page: Page) -> str:
    import trafilatura

    return trafilatura.extract(page.html, url=page.url) or ""


def _text(html: bytes) -> str:
    from crawler.extract import extract_article

    return extract_article(html).text


@dataclass
class Timed:
    texts: dict[str, str]
    wall: list[float]
    cpu: list[float]


def _timed_side_by_side(extractors: list[Callable[[Page], str]], pages: list[Page]) -> list[Timed]:
    """Run every extractor on each page in turn (page by page, not one extractor over all the
    pages, then the next): on shared cores both see the same load, so their ratio holds."""
    results = [Timed({}, [], []) for _ in extractors]
    for page in pages:
        for extract, result in zip(extractors, results, strict=True):
            started, cpu_started = time.perf_counter(), time.process_time()
            result.texts[page.key] = extract(page)
            result.wall.append((time.perf_counter() - started) * 1000)
            result.cpu.append((time.process_time() - cpu_started) * 1000)
    return results


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50={statistics.median(ordered):.1f} p95={p95:.1f} mean={statistics.mean(ordered):.1f}"


def _row(label: str, n: int, ours: tuple[float, float, float], theirs: tuple[float, float, float]) -> str:
    return (
        f"  {label:<34} {n:>4}   F1={ours[0]:.3f} P={ours[1]:.3f} R={ours[2]:.3f}"
        f"   |   F1={theirs[0]:.3f} P={theirs[1]:.3f} R={theirs[2]:.3f}"
    )


def main() -> None:
    if not (SHARED / "tools" / "extract_f1.py").exists():
        print(f"skipped: {SHARED} is absent (the shared real-world pages and scorer)")
        return
    from crawler.extract import extract_article

    page_scores = _scorer()
    loaded = {name: load_pages(name) for name in SETS}
    for pages in loaded.values():  # warm up: both load parts of themselves on first use
        for page in pages[:3]:
            extract_article(page.html, page.url)
            _trafilatura(page)
    print("quality (word 4-gram F1 / precision / recall; newswatch | plain trafilatura.extract, same run)")
    print(f"  {'pages':<34} {'n':>4}   newswatch{'':<25}|   trafilatura")
    for name, pages in loaded.items():
        if not pages:
            print(f"  {name}: absent")
            continue
        ours_timed, theirs_timed = _timed_side_by_side([_ours, _trafilatura], pages)
        ours, wall, cpu = ours_timed.texts, ours_timed.wall, ours_timed.cpu
        theirs, their_wall, their_cpu = theirs_timed.texts, theirs_timed.wall, theirs_timed.cpu

        def scored(subset: list[Page], texts: dict[str, str]) -> tuple[float, float, float]:
            return summary([page_scores(p.truth, texts[p.key]) for p in subset])

        halves = {
            "all": pages,
            "tune half": [p for p in pages if tune_half(name, p.key)],
            "held-out half": [p for p in pages if not tune_half(name, p.key)],
            "live blogs": [p for p in pages if p.live],
        }
        for label, subset in halves.items():
            if subset:
                publishers = len({p.key.split("_", 1)[0] for p in subset}) if name == "news" else None
                shown = f"{name} {label}" + (
                    f" ({publishers} publ.)" if publishers and "half" in label else ""
                )
                print(_row(shown, len(subset), scored(subset, ours), scored(subset, theirs)))
        ratio = statistics.mean(cpu) / statistics.mean(their_cpu)
        print(
            f"  {name} ms/page cpu   newswatch {_ms(cpu)}   trafilatura {_ms(their_cpu)}   ratio {ratio:.2f}"
        )
        print(f"  {name} ms/page wall  newswatch {_ms(wall)}   trafilatura {_ms(their_wall)}")

    pages = [p.html for ps in loaded.values() for p in ps]
    if pages:
        with ProcessPoolExecutor(max_workers=2) as pool:
            list(pool.map(_text, pages[:2]))  # start and warm both workers
            started = time.perf_counter()
            list(pool.map(_text, pages, chunksize=4))
            elapsed = time.perf_counter() - started
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"extract throughput (2-process pool, {len(pages)} pages): {len(pages) / elapsed:.0f} articles/s "
            f"(load average {load:.1f} on {os.cpu_count()} cores)"
        )


if __name__ == "__main__":
    main()
