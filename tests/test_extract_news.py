"""Quality on today's news pages (../shared/realworld/news: 115 pages of 80 publishers,
2023–2026), above plain trafilatura; skipped where ../shared is absent."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from crawler.extract import extract_article


def _pages(shared_dir: Path) -> tuple[Path, dict]:
    root = shared_dir / "realworld" / "news"
    if not (root / "ground-truth.json").exists():
        pytest.skip(f"{root} is absent: the news pages are not available")
    return root, json.loads((root / "ground-truth.json").read_text())


def test_news_pages_meet_the_quality_target(shared_dir: Path, page_scores) -> None:
    root, truth = _pages(shared_dir)
    scores, live = [], []
    for key in sorted(truth):
        html = gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())
        score = page_scores(truth[key]["articleBody"], extract_article(html, truth[key]["url"]).text)
        scores.append(score)
        if b"LiveBlogPosting" in html:
            live.append(score)
    precision = sum(p for p, _ in scores) / len(scores)
    recall = sum(r for _, r in scores) / len(scores)
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.96 and recall >= 0.96, f"F1={f1:.3f} precision={precision:.3f} recall={recall:.3f}"
    assert live and all(r >= 0.8 for _, r in live), f"live blogs keep most of their updates: {live}"
