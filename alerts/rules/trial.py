"""Trying a draft rule on the archive: hits per day and samples (`newswatch rules test` and
`POST /api/v1/rules/test`), and what an edit would change, story by story
(`POST /api/v1/rules/{name}/diff`). Both rest on `archive.search`, so they show exactly what
the rule would have matched."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.rules.archive import SearchHit, SearchStats, compile_search, search
from newswatch.core.models import Article

DIFF_SHOWN = 50  # stories listed on each side of a diff


@dataclass
class Trial:
    """What a query would have matched: the parsed query, counts, hits per day, newest samples."""

    query: str
    stats: SearchStats
    per_day: dict[str, int]
    samples: list[SearchHit] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.stats.matched


def try_query(
    session: Session, query_text: str, since: datetime | None, source: str | None = None, samples: int = 10
) -> Trial:
    """Return the query's matches over the stored articles since `since` (UserError if malformed)."""
    parsed, _ = compile_search(query_text)
    stats = SearchStats()
    per_day: Counter[str] = Counter()
    shown: list[SearchHit] = []
    for hit in search(session, query_text, since, source, stats=stats):
        per_day[hit.when.strftime("%Y-%m-%d")] += 1
        if len(shown) < samples:
            shown.append(hit)
    return Trial(str(parsed), stats, dict(sorted(per_day.items())), shown)


@dataclass
class QueryDiff:
    """Stories the new query matches and the old does not (`added`), the reverse (`removed`),
    and how many both match; each story shown by its newest matching article."""

    added: list[SearchHit]
    removed: list[SearchHit]
    added_total: int
    removed_total: int
    unchanged: int


def _by_story(session: Session, hits: list[SearchHit]) -> dict[int, SearchHit]:
    """Return the newest hit of each story (an article without a story is its own)."""
    stories: dict[int, int | None] = {}
    ids = [hit.article_id for hit in hits]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stories.update(
            session.execute(select(Article.id, Article.story_id).where(Article.id.in_(chunk))).all()
        )
    out: dict[int, SearchHit] = {}
    for hit in hits:  # newest first: the first hit of a story is its newest
        story = stories.get(hit.article_id)
        out.setdefault(story if story is not None else -hit.article_id, hit)
    return out


def diff_queries(
    session: Session, old: str, new: str, since: datetime | None, source: str | None = None
) -> QueryDiff:
    """Return what changing a rule's query from `old` to `new` would change over the archive."""
    compile_search(new)  # the draft's own error first
    before = _by_story(session, list(search(session, old, since, source)))
    after = _by_story(session, list(search(session, new, since, source)))
    added = [hit for story, hit in after.items() if story not in before]
    removed = [hit for story, hit in before.items() if story not in after]
    return QueryDiff(
        added=added[:DIFF_SHOWN],
        removed=removed[:DIFF_SHOWN],
        added_total=len(added),
        removed_total=len(removed),
        unchanged=len(before.keys() & after.keys()),
    )
