"""The database schema: what the pipeline stores at each stage.

    sources ─┬─ crawl_runs                 one row per poll (health, `newswatch status`)
             └─ articles ─┬─ article_urls  every URL variant that led to the article
                          ├─ matches       one per (article, rule), with the explanation
                          └─ stories       near-duplicates share one story
    alerts        one per (subscriber, story)  ← the outbox; UNIQUE makes duplicates impossible
    alert_sightings   later articles of an alerted story ("also reported by")
    digests       one per (subscriber, due time)
    deliveries    one per (alert or digest, destination): the ledger the dispatcher works on
    http_cache    ETag / Last-Modified per feed or sitemap URL, for conditional GET
    processes     the running processes of a multi-process deployment (heartbeats)
    live_pages    live blogs still re-fetched: each batch of new updates becomes an article

Times are timezone-aware UTC in Python and UTC in the database (SQLite has no time zones,
so `UTCDateTime` strips and restores the zone).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column, relationship

URL_LENGTH = 2048
NAME_LENGTH = 100


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as naive UTC and always returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


class Source(Base):
    """A configured source and its crawl state (the config stays the source of truth)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_crawl_at: Mapped[datetime | None]
    last_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_article_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    alarm_raised_at: Mapped[datetime | None]

    articles: Mapped[list[Article]] = relationship(back_populates="source")


class CrawlRun(Base):
    """One poll of one source: what it fetched, found and failed on."""

    __tablename__ = "crawl_runs"
    __table_args__ = (Index("ix_crawl_runs_source_started", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | ok | failed
    pages: Mapped[int] = mapped_column(default=0)
    not_modified: Mapped[int] = mapped_column(default=0)
    new_articles: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    error_summary: Mapped[str | None] = mapped_column(Text)


class HttpCache(Base):
    """Validators from the last 200 response of a feed or sitemap URL (conditional GET)."""

    __tablename__ = "http_cache"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class Story(Base):
    """One news story: the first article and every exact or near duplicate of it."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    articles: Mapped[list[Article]] = relationship(back_populates="story")


class Article(Base):
    """An extracted article, stored once under its canonical URL."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_published", "published_at"),
        Index("ix_articles_fetched", "fetched_at"),
        Index("ix_articles_unmatched", "matched_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"), index=True)
    canonical_url: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(16))
    site_name: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    simhash: Mapped[int | None] = mapped_column(BigInteger)
    # Backfill guard: articles older than the source's backfill window on its first crawl never alert.
    alertable: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set once the matcher has run on this article; NULL rows are the matcher's work queue.
    matched_at: Mapped[datetime | None]
    raw_html: Mapped[str | None] = deferred(mapped_column(Text))

    source: Mapped[Source] = relationship(back_populates="articles")
    story: Mapped[Story | None] = relationship(back_populates="articles")
    urls: Mapped[list[ArticleUrl]] = relationship(back_populates="article", cascade="all, delete-orphan")
    matches: Mapped[list[Match]] = relationship(back_populates="article", cascade="all, delete-orphan")


class ArticleUrl(Base):
    """A URL (as discovered, normalised, or canonical) known to lead to an article."""

    __tablename__ = "article_urls"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="urls")


class LivePage(Base):
    """A live blog that keeps growing under one URL (crawler.livepages): re-fetched on its
    source's polls while it is updated; each batch of new updates is stored as an article of
    its own, so it can alert. `article_id` is the article of the first fetch."""

    __tablename__ = "live_pages"
    __table_args__ = (Index("ix_live_pages_source_active", "source_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    fetches: Mapped[int] = mapped_column(Integer, default=0)  # re-fetches after the first
    updates: Mapped[int] = mapped_column(Integer, default=0)  # update articles stored
    seen_text: Mapped[str] = mapped_column(Text, default="")  # every update text seen so far


class Match(Base):
    """A rule that matched an article, with what hit where (the alert's explanation)."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("article_id", "rule", name="uq_matches_article_rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    hits: Mapped[dict] = mapped_column(JSON, default=dict)  # {"title": ["ISS"], "text": ["deorbit"]}
    snippet: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="matches")


class Digest(Base):
    """One digest message per subscriber and due time."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("subscriber", "due_at", name="uq_digests_subscriber_due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber: Mapped[str] = mapped_column(String(NAME_LENGTH))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """The outbox: one alert per (subscriber, story), whatever led to it.

    `kind` "match" alerts point at a story and its first article; `kind` "health" alerts
    (source alarms for admin subscribers) carry their own `subject` and `message` instead,
    and `alarm_key` makes each alarm episode unique per subscriber.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("subscriber", "story_id", name="uq_alerts_subscriber_story"),
        UniqueConstraint("subscriber", "alarm_key", name="uq_alerts_subscriber_alarm"),
        Index("ix_alerts_subscriber_created", "subscriber", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber: Mapped[str] = mapped_column(String(NAME_LENGTH))
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(16), default="match")  # match | health
    subject: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
    alarm_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Digest subscribers: the alert waits for its digest; NULL digest_id = not yet sent in one.
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="SET NULL"), index=True)
    in_digest: Mapped[bool] = mapped_column(Boolean, default=False)

    article: Mapped[Article | None] = relationship()
    sightings: Mapped[list[AlertSighting]] = relationship(
        back_populates="alert", cascade="all, delete-orphan"
    )
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="alert", cascade="all, delete-orphan")


class AlertSighting(Base):
    """A later article of an already-alerted story: listed as "also reported by", never re-sent."""

    __tablename__ = "alert_sightings"
    __table_args__ = (UniqueConstraint("alert_id", "article_id", name="uq_sightings_alert_article"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    alert: Mapped[Alert] = relationship(back_populates="sightings")


class Delivery(Base):
    """One message to one destination: the ledger entry the dispatcher claims, sends and settles."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "destination_key", name="uq_deliveries_alert_destination"),
        UniqueConstraint("digest_id", "destination_key", name="uq_deliveries_digest_destination"),
        CheckConstraint("(alert_id IS NULL) <> (digest_id IS NULL)", name="ck_deliveries_one_parent"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    subscriber: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    destination: Mapped[str] = mapped_column(String(URL_LENGTH))  # redacted, for display
    destination_key: Mapped[str] = mapped_column(String(64))  # sha256 of the real URL
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    alert: Mapped[Alert | None] = relationship(back_populates="deliveries")


class ArticleSearch(Base):
    """The archive's search index: an article's words as the query language folds them
    (`alerts.rules.text`), space-separated, kept by `alerts.rules.archive.refresh_search_index`. SQLite
    indexes it with FTS5, PostgreSQL with GIN (migration 0002). Changing an article's title or
    text deletes its row (a trigger), so the index is never stale, only incomplete until the
    next refresh — and a search refreshes first."""

    __tablename__ = "article_search"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    title_words: Mapped[str] = mapped_column(Text, default="")
    text_words: Mapped[str] = mapped_column(Text, default="")


class Process(Base):
    """One running process of a deployment (`newswatch run --roles …`), as it last reported
    itself: which roles it plays, whether it is the active scheduler, which polls it runs.
    Each process rewrites its own row every few seconds; a row whose `last_seen` is old
    belongs to a process that stopped or died (newswatch.cluster)."""

    __tablename__ = "processes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    roles: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    leader: Mapped[bool] = mapped_column(Boolean, default=False)
    polls_in_flight: Mapped[list[str]] = mapped_column(JSON, default=list)  # source names
    polls_done: Mapped[int] = mapped_column(Integer, default=0)
    lag_p50: Mapped[float | None] = mapped_column(
        Float
    )  # seconds a poll started after it was due (last polls)
    lag_p95: Mapped[float | None] = mapped_column(Float)
    stopped_at: Mapped[datetime | None]
