"""Extraction benchmark on the shared real-world pages: speed and quality.

Prints ms/page (p50, p95, mean) of `extract_article` in one process, both wall-clock and CPU time
(the 2 cores are shared, so CPU time is the steadier figure), articles/s through a 2-process pool
(how the crawler runs it) with the load average beside it, and the word 4-gram F1 / precision / recall of
`../shared/tools/extract_f1.py` on all pages and on two fixed halves: "tune" (keys whose last hex
digit is even, used while developing the method) and "held-out" (odd, only checked). Skips with a
message when ../shared is absent.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
PAGES = SHARED / "realworld" / "articles"


def _scorer():
    spec = importlib.util.spec_from_file_location("extract_f1", SHARED / "tools" / "extract_f1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.page_scores


def _text(html: bytes) -> str:
    from crawler.extract import extract_article

    return extract_article(html).text


def _summary(scores: list[tuple[float, float]]) -> str:
    precision = statistics.mean(p for p, _ in scores)
    recall = statistics.mean(r for _, r in scores)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f"F1={f1:.3f} precision={precision:.3f} recall={recall:.3f}"


def main() -> None:
    if not (PAGES / "ground-truth.json").exists():
        print(f"skipped: {PAGES} is absent")
        return
    from crawler.extract import extract_article

    truth = json.loads((PAGES / "ground-truth.json").read_text())
    keys = sorted(truth)
    pages = {key: gzip.decompress((PAGES / "html" / f"{key}.html.gz").read_bytes()) for key in keys}
    extract_article(pages[keys[0]])  # warm up imports

    texts, times, cpu_times = {}, [], []
    for key in keys:
        started, cpu_started = time.perf_counter(), time.process_time()
        texts[key] = extract_article(pages[key]).text
        times.append((time.perf_counter() - started) * 1000)
        cpu_times.append((time.process_time() - cpu_started) * 1000)
    for label, values in (("wall", times), ("cpu", cpu_times)):
        values.sort()
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        print(
            f"extract ms/page {label} (1 process, {len(keys)} pages): p50={statistics.median(values):.1f} "
            f"p95={p95:.1f} mean={statistics.mean(values):.1f}"
        )

    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_text, [pages[keys[0]]] * 2))  # start and warm both workers
        started = time.perf_counter()
        rounds = 2
        for _ in range(rounds):
            list(pool.map(_text, [pages[key] for key in keys], chunksize=4))
        elapsed = time.perf_counter() - started
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"extract throughput (2-process pool): {rounds * len(keys) / elapsed:.0f} articles/s "
        f"(load average {load:.1f} on {os.cpu_count()} cores)"
    )

    page_scores = _scorer()
    scores = {key: page_scores(truth[key]["articleBody"], texts[key]) for key in keys}
    tune = [scores[k] for k in keys if int(k[-1], 16) % 2 == 0]
    held = [scores[k] for k in keys if int(k[-1], 16) % 2 == 1]
    print(f"quality all ({len(keys)} pages): {_summary(list(scores.values()))}")
    print(f"quality tune half ({len(tune)} pages): {_summary(tune)}")
    print(f"quality held-out half ({len(held)} pages): {_summary(held)}")


if __name__ == "__main__":
    main()
