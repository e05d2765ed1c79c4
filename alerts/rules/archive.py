"""Searching stored articles with the query language: exactly what a rule would have matched.

Two steps:

1. **Prefilter in SQL.** `article_search` holds every article's words folded exactly as the
   matcher folds them (`alerts.rules.text`), indexed by SQLite FTS5 or a PostgreSQL GIN index over
   `array_to_tsvector`. The query becomes an index condition that can only be *looser* than
   the query: words and prefixes as they are, phrases as phrases (SQLite) or as all their
   words (PostgreSQL), NEAR as AND, `=Exact` words case-folded, NOT dropped. So the prefilter
   never loses a true match — accents, Cyrillic and prefixes included, because both sides
   are the same folded words.
2. **The compiled matcher** then decides on each candidate's title and text, so the result
   is exactly the rule's.

`refresh_search_index()` indexes articles that have no row yet (new ones, and ones whose title
or text changed: a trigger deletes their row). Every search refreshes first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from sqlalchemy import ColumnElement, Select, and_, cast, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from alerts.rules import reference
from alerts.rules.compiled import CompiledRules, RuleError, compile_query
from alerts.rules.explanations import RuleMatch, explain, field_snippet
from alerts.rules.text import fold, word_sequence
from alerts.rules.tree import FIELDS, And, Near, Node, Not, Phrase, Query, Word
from newswatch.core.errors import UserError
from newswatch.core.models import Article, ArticleSearch, Source

# Longer words are indexed cut to this many characters (PostgreSQL limits a lexeme to 2 KB);
# a longer query word then becomes a prefix search on its first characters.
MAX_INDEXED_WORD = 100
REFRESH_BATCH = 500
_COLUMNS = {"title": "title_words", "text": "text_words"}


@dataclass
class SearchHit:
    """One stored article the query matches; its explanation is worked out when first asked for."""

    article_id: int
    url: str
    title: str
    text: str = field(repr=False)
    source: str
    published_at: datetime | None
    fetched_at: datetime
    query: Query = field(repr=False)

    @property
    def when(self) -> datetime:
        return self.published_at or self.fetched_at

    @cached_property
    def _words(self) -> reference.Article:
        return reference.Article(self.title, self.text)

    @cached_property
    def match(self) -> RuleMatch:
        """What hit where, and the snippet."""
        return explain("query", self.query, self._words)

    @cached_property
    def title_highlighted(self) -> str:
        """The whole title with the query's hits in it wrapped in **…**."""
        _, hits = reference.explain(self.query.root, self._words)
        spans = sorted({span for f, span in hits if f == "title"})
        words = self._words.fields["title"]
        if not words.matches or not spans:
            return " ".join(self.title.split())
        return field_snippet(words, spans).removeprefix("… ").removesuffix(" …")


@dataclass
class SearchStats:
    """How much work a search did: articles the prefilter let through, and matches."""

    candidates: int = 0
    matched: int = 0
    indexed: int = 0
    prefilter: str = ""


# ---------------------------------------------------------------------------- the index


def indexed_words(text_value: str) -> str:
    """Return the folded words of a text, space-separated, as the index stores them."""
    return " ".join(w.decode()[:MAX_INDEXED_WORD] for w in word_sequence(text_value or ""))


_INSERT = text(
    "INSERT INTO article_search (article_id, title_words, text_words) "
    "SELECT CAST(:id AS INTEGER), CAST(:title_words AS TEXT), CAST(:text_words AS TEXT) "
    "WHERE EXISTS (SELECT 1 FROM articles WHERE id = CAST(:id AS INTEGER) "
    "AND title = CAST(:title AS TEXT) AND text = CAST(:text AS TEXT)) "
    "ON CONFLICT DO NOTHING"
)


# The SQLite triggers on `articles` that keep the index honest (migration 0002). A later
# migration that rebuilds `articles` in SQLite's batch mode drops them; `_ensure_triggers`
# puts them back and, since edits made in between went unnoticed, starts the index afresh.
_SQLITE_ARTICLE_TRIGGERS = {
    "articles_search_stale": (
        "CREATE TRIGGER articles_search_stale AFTER UPDATE OF title, text ON articles "
        "WHEN old.title IS NOT new.title OR old.text IS NOT new.text BEGIN "
        "DELETE FROM article_search WHERE article_id = old.id; END"
    ),
    "articles_search_gone": (
        "CREATE TRIGGER articles_search_gone AFTER DELETE ON articles BEGIN "
        "DELETE FROM article_search WHERE article_id = old.id; END"
    ),
}


def _ensure_triggers(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        return
    present = set(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    missing = [name for name in _SQLITE_ARTICLE_TRIGGERS if name not in present]
    if missing:
        for name in missing:
            session.execute(text(_SQLITE_ARTICLE_TRIGGERS[name]))
        session.execute(text("DELETE FROM article_search"))
        session.commit()


def refresh_search_index(session: Session, batch: int = REFRESH_BATCH) -> int:
    """Index every article without a search row; return how many were indexed.

    A row is written only if the article still has the title and text it was computed from
    (and PostgreSQL locks the articles while it works), so a concurrent edit cannot leave a
    stale row behind."""
    _ensure_triggers(session)
    # Every search refreshes first: when each article has its row (the rows are a subset of the
    # articles, one each), two counts say so faster than looking for the missing ones.
    articles = session.scalar(select(func.count()).select_from(Article))
    if articles == session.scalar(select(func.count()).select_from(ArticleSearch)):
        return 0
    done = 0
    last_id = 0
    while True:
        query = (
            select(Article.id, Article.title, Article.text)
            .outerjoin(ArticleSearch, ArticleSearch.article_id == Article.id)
            .where(ArticleSearch.article_id.is_(None), Article.id > last_id)
            .order_by(Article.id)
            .limit(batch)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(read=True, of=Article)
        rows = session.execute(query).all()
        if not rows:
            break
        session.execute(
            _INSERT,
            [
                {
                    "id": row.id,
                    "title": row.title,
                    "text": row.text,
                    "title_words": indexed_words(row.title),
                    "text_words": indexed_words(row.text),
                }
                for row in rows
            ],
        )
        session.commit()
        done += len(rows)
        last_id = rows[-1].id
    return done


# ---------------------------------------------------------------------------- the prefilter


@dataclass(frozen=True)
class _Leaf:
    """An index term: consecutive folded words (the last may be a prefix) in a field or both."""

    words: tuple[str, ...]
    prefix: bool
    field: str | None


_Loose = tuple  # ("and", [..]) / ("or", [..]) / _Leaf ; None means "no restriction"


def _word_leaf(word: Word, field_name: str | None) -> _Leaf:
    key = fold(word.key) if word.exact else word.key
    if len(key) > MAX_INDEXED_WORD:
        return _Leaf((key[:MAX_INDEXED_WORD],), True, field_name)
    return _Leaf((key,), word.prefix, field_name)


def loosen(node: Node) -> object | None:
    """Return a condition every article the query matches also meets (None: no condition)."""
    if isinstance(node, Word):
        return _word_leaf(node, node.field)
    if isinstance(node, Phrase):
        words = node.words
        simple = all(len(w.key) <= MAX_INDEXED_WORD and not w.exact for w in words) and not any(
            w.prefix for w in words[:-1]
        )
        if simple:
            return _Leaf(tuple(w.key for w in words), words[-1].prefix, node.field)
        return ("and", [_word_leaf(w, node.field) for w in words])
    if isinstance(node, Near):
        return _combine("and", [loosen(node.left), loosen(node.right)])
    if isinstance(node, Not):
        return None
    return _combine("and" if isinstance(node, And) else "or", [loosen(c) for c in node.children])


def _combine(kind: str, parts: list[object | None]) -> object | None:
    if kind == "and":
        kept = [p for p in parts if p is not None]
        return None if not kept else kept[0] if len(kept) == 1 else ("and", kept)
    if any(p is None for p in parts):
        return None
    return parts[0] if len(parts) == 1 else ("or", parts)


def _fts_string(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def fts5_expression(condition: object) -> str:
    """Return the SQLite FTS5 MATCH expression of a loosened condition."""
    if isinstance(condition, _Leaf):
        term = _fts_string(" ".join(condition.words)) + ("*" if condition.prefix else "")
        if condition.field:
            return f"{_COLUMNS[condition.field]} : {term}"
        return term
    kind, parts = condition  # type: ignore[misc]
    joiner = " AND " if kind == "and" else " OR "
    return "(" + joiner.join(fts5_expression(p) for p in parts) + ")"


def _tsquery(condition: _Leaf) -> str:
    def lexeme(word: str, prefix: bool) -> str:
        quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
        return quoted + (":*" if prefix else "")

    last = len(condition.words) - 1
    return " & ".join(lexeme(w, condition.prefix and i == last) for i, w in enumerate(condition.words))


def _vector(column) -> ColumnElement:
    # Spelled exactly like the GIN index expression of migration 0002, so the planner uses it.
    return func.array_to_tsvector(func.string_to_array(column, literal_column("' '")))


def postgres_condition(condition: object) -> ColumnElement[bool]:
    """Return the PostgreSQL WHERE condition (on article_search) of a loosened condition."""
    if isinstance(condition, _Leaf):
        query = cast(_tsquery(condition), TSQUERY)
        fields = [condition.field] if condition.field else list(FIELDS)
        tests = [_vector(getattr(ArticleSearch, _COLUMNS[f])).op("@@")(query) for f in fields]
        return tests[0] if len(tests) == 1 else or_(*tests)
    kind, parts = condition  # type: ignore[misc]
    return (and_ if kind == "and" else or_)(*(postgres_condition(p) for p in parts))


# ---------------------------------------------------------------------------- searching


def _when():
    return func.coalesce(Article.published_at, Article.fetched_at)


def candidates_query(
    session: Session,
    query: Query | None,
    since: datetime | None = None,
    source: str | None = None,
) -> tuple[Select, str]:
    """Return the SELECT of candidate articles (newest first) and a description of the prefilter."""
    # Only the ids are sorted (the texts are read for a page of candidates at a time, by
    # `_rows`): sorting whole rows of a large archive cost the database most of a search.
    statement = select(Article.id).order_by(_when().desc(), Article.id.desc())
    if since is not None:
        statement = statement.where(_when() >= since)
    if source is not None:
        statement = statement.join(Source, Source.id == Article.source_id).where(Source.name == source)
    described = "none"
    condition = loosen(query.root) if query is not None else None
    if condition is not None:
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.join(ArticleSearch, ArticleSearch.article_id == Article.id).where(
                postgres_condition(condition)
            )
            described = "PostgreSQL GIN (array_to_tsvector)"
        else:
            expression = fts5_expression(condition)
            matching = text(
                "SELECT rowid FROM article_search_fts WHERE article_search_fts MATCH :fts"
            ).bindparams(fts=expression)
            statement = statement.where(Article.id.in_(matching))
            described = f"SQLite FTS5: {expression}"
    return statement, described


def compile_search(query_text: str) -> tuple[Query, CompiledRules]:
    """Return the parsed and compiled ad-hoc query; a malformed one is a UserError with the column."""
    try:
        compiled = compile_query(query_text)
    except RuleError as exc:
        where = f"column {exc.column}: " if exc.column is not None else ""
        raise UserError(f"query: {where}{exc.message}") from None
    return compiled.queries[0], compiled


def search(
    session: Session,
    query_text: str,
    since: datetime | None = None,
    source: str | None = None,
    limit: int | None = None,
    stats: SearchStats | None = None,
) -> Iterator[SearchHit]:
    """Yield the stored articles the query matches, newest first (refreshing the index first)."""
    stats = stats if stats is not None else SearchStats()
    query, compiled = compile_search(query_text)
    stats.indexed = refresh_search_index(session)
    statement, stats.prefilter = candidates_query(session, query, since, source)
    found = 0
    for row in _rows(session, statement):
        stats.candidates += 1
        if not compiled.match_names(row.title, row.text, row.source):
            continue
        stats.matched += 1
        found += 1
        yield SearchHit(
            article_id=row.id,
            url=row.url,
            title=row.title,
            text=row.text,
            source=row.source,
            published_at=row.published_at,
            fetched_at=row.fetched_at,
            query=query,
        )
        if limit is not None and found >= limit:
            return


def recent(
    session: Session, since: datetime | None = None, source: str | None = None, limit: int | None = None
) -> list:
    """Return the newest stored articles (no query)."""
    statement, _ = candidates_query(session, None, since, source)
    if limit is not None:
        statement = statement.limit(limit)
    return list(_rows(session, statement))


ROWS_AT_ONCE = 200


def _rows(session: Session, ids: Select) -> Iterator:
    """Yield the articles (with their source's name) of an ordered SELECT of ids, in its order,
    reading a few hundred at a time."""
    found = [row.id for row in session.execute(ids)]
    for start in range(0, len(found), ROWS_AT_ONCE):
        chunk = found[start : start + ROWS_AT_ONCE]
        rows = session.execute(
            select(
                Article.id, Article.url, Article.title, Article.text, Article.published_at, Article.fetched_at
            )
            .add_columns(Source.name.label("source"))
            .join(Source, Source.id == Article.source_id)
            .where(Article.id.in_(chunk))
        )
        by_id = {row.id: row for row in rows}
        yield from (by_id[i] for i in chunk if i in by_id)


def known_source(session: Session, name: str) -> bool:
    return session.scalar(select(Source.id).where(Source.name == name)) is not None


__all__ = [
    "SearchHit",
    "SearchStats",
    "candidates_query",
    "compile_search",
    "fts5_expression",
    "indexed_words",
    "known_source",
    "loosen",
    "postgres_condition",
    "recent",
    "refresh_search_index",
    "search",
]
