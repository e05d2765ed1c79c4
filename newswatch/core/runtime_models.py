"""Tables for what is managed at run time: accounts, tokens, and the sources, rules and
subscribers made through the HTTP API (migration 0004).

    users             a person: argon2 password hash, admin or user
    api_tokens        bearer tokens and browser sessions, stored only as SHA-256 hashes
    feed_tokens       the read-only token in one Atom feed's URL (shown again on every GET,
                      so kept as it is; it opens that one feed and nothing else)
    managed_entities  a source, rule or subscriber made through the API: its validated fields
                      as JSON, and the user who owns it
    config_revision   one row, bumped in the same transaction as every change to
                      managed_entities: the running service compares it every second
    installation      one row: the installation's secret key (the ledger's destination keys)

The config files stay the other half of the truth; `newswatch.core.managed.merge_config`
joins both into the one `Config` every stage uses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from newswatch.core.models import NAME_LENGTH, Base, utcnow


class User(Base):
    """An account: admins manage everything, users their own rules and subscriptions."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token (`kind` "api") or a browser session (`kind` "session"); only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="api")
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class FeedToken(Base):
    """The token of one Atom feed (`kind` "rule" or "subscriber", and the entity's name)."""

    __tablename__ = "feed_tokens"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_feed_tokens_kind_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ManagedEntity(Base):
    """A source, rule or subscriber made through the API (`body`: its fields, validated)."""

    __tablename__ = "managed_entities"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_managed_entities_kind_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # source | rule | subscriber
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConfigRevision(Base):
    """One row (id 1): a counter bumped by every change to the managed entities."""

    __tablename__ = "config_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Installation(Base):
    """One row (id 1): this installation's secret key, drawn when the schema is made (0007)."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
