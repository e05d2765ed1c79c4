"""Sources, rules and subscribers as the API sees them: from the config files (read-only,
409 naming the file) or made through the API (stored in `managed_entities`, owned by a user).

Who sees what: sources and config-file rules, everyone; config-file subscribers, admins;
a stored rule or subscriber, its owner and the admins. Anything else is a 404, exactly as if
it did not exist. Every change bumps the config revision in the same transaction, so the
running service picks it up within seconds.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newswatch.core.config import Config
from newswatch.core.entity_store import bump_revision
from newswatch.core.managed import ATTRIBUTES, FILES, MODELS, build_entity
from newswatch.core.models import utcnow
from newswatch.core.runtime_models import FeedToken, ManagedEntity, User
from newswatch.web.auth import Principal
from newswatch.web.context import WebContext
from newswatch.web.errors import ApiError, validation_field


@dataclass
class Entity:
    """One source, rule or subscriber, wherever it is defined."""

    kind: str
    model: Any
    origin: str  # "config" | "api"
    file: str | None = None
    row: ManagedEntity | None = None
    owner: str | None = None

    @property
    def name(self) -> str:
        return self.model.name


class Entities:
    """The entities of one kind that one principal may see, and the changes they may make."""

    def __init__(self, session: Session, context: WebContext, principal: Principal, kind: str) -> None:
        self.session = session
        self.context = context
        self.files: Config = context.file_config()
        self.principal = principal
        self.kind = kind

    @cached_property
    def config(self) -> Config:
        """The effective config (files and database), for references between entities."""
        return self.context.effective_config(self.session)

    def _file_entities(self) -> list[Any]:
        return list(getattr(self.files, ATTRIBUTES[self.kind]))

    def _file_visible(self) -> bool:
        return self.kind != "subscriber" or self.principal.is_admin

    def _row_visible(self, row: ManagedEntity) -> bool:
        return self.kind == "source" or self.principal.is_admin or row.owner_id == self.principal.id

    def file_path(self) -> str:
        return str((self.files.directory / FILES[self.kind]).resolve())

    def all(self) -> list[Entity]:
        out: list[Entity] = []
        if self._file_visible():
            out += [Entity(self.kind, m, "config", self.file_path()) for m in self._file_entities()]
        file_names = {m.name for m in self._file_entities()}
        rows = self.session.execute(
            select(ManagedEntity, User.name)
            .outerjoin(User, User.id == ManagedEntity.owner_id)
            .where(ManagedEntity.kind == self.kind)
            .order_by(ManagedEntity.name)
        )
        for row, owner in rows:
            if row.name in file_names or not self._row_visible(row):
                continue
            try:
                model = build_entity(self.kind, row.body)
            except ValidationError:
                continue
            out.append(Entity(self.kind, model, "api", row=row, owner=owner))
        return out

    def get(self, name: str) -> Entity:
        for entity in self.all():
            if entity.name == name:
                return entity
        raise ApiError(404, f"no {self.kind} named {name!r}")

    def writable(self, name: str) -> Entity:
        """Return a stored entity this principal may change (409 for one from the files)."""
        entity = self.get(name)
        if entity.origin == "config":
            raise ApiError(
                409,
                f"{self.kind} {name!r} is defined in {entity.file}: edit that file (then SIGHUP); "
                "the API changes only what was made through it",
                field="name",
            )
        return entity

    def name_taken(self, name: str) -> None:
        """409 when the name is used, in the files or in the database (by anyone)."""
        if any(m.name == name for m in self._file_entities()):
            raise ApiError(409, f"{self.kind} name {name!r} is already used in {self.file_path()}", "name")
        taken = self.session.scalar(
            select(ManagedEntity.id).where(ManagedEntity.kind == self.kind, ManagedEntity.name == name)
        )
        if taken is not None:
            raise ApiError(409, f"a {self.kind} named {name!r} already exists", "name")

    def create(self, model: BaseModel) -> Entity:
        return self.create_many([model])[0]

    def create_many(self, models: list[BaseModel]) -> list[Entity]:
        """Add every model in one transaction (all or nothing)."""
        now = utcnow()
        rows = []
        for model in models:
            self.name_taken(model.name)
            row = ManagedEntity(
                kind=self.kind,
                name=model.name,
                owner_id=self.principal.id,
                body=dump(model),
                created_at=now,
                updated_at=now,
            )
            self.session.add(row)
            rows.append(row)
        if rows:
            bump_revision(self.session)
            self._commit()
        return [
            Entity(self.kind, m, "api", row=r, owner=self.principal.name)
            for m, r in zip(models, rows, strict=True)
        ]

    def replace(self, entity: Entity, model: BaseModel) -> Entity:
        assert entity.row is not None
        entity.row.body = dump(model)
        entity.row.updated_at = utcnow()
        bump_revision(self.session)
        self._commit()
        return Entity(self.kind, model, "api", row=entity.row, owner=entity.owner)

    def delete(self, entity: Entity) -> None:
        assert entity.row is not None
        self.session.delete(entity.row)
        # A later entity of the same name must not inherit this one's feed.
        self.session.execute(
            delete(FeedToken).where(FeedToken.kind == self.kind, FeedToken.name == entity.name)
        )
        bump_revision(self.session)
        self._commit()

    def _commit(self) -> None:
        try:
            self.session.commit()
        except IntegrityError:  # two requests raced for one name
            self.session.rollback()
            raise ApiError(409, f"a {self.kind} of that name already exists", "name") from None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_defaults=True) | {"name": model.name}


def validated(kind: str, fields: dict[str, Any]) -> Any:
    """Return the config model for `fields`; a problem is a 422 naming the field."""
    try:
        return MODELS[kind].model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = validation_field(tuple(first.get("loc", ())))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        if first.get("type") == "string_pattern_mismatch":
            message = "must use only a-z, 0-9 and '-' (and start with a letter or digit)"
        if field and field.startswith("notify"):
            field, message = "notify", "invalid notification URL list"
        raise ApiError(422, f"{field}: {message}" if field else message, field) from None


def merged_fields(entity: Entity, changes: dict[str, Any]) -> dict[str, Any]:
    """Return the entity's fields with a PATCH's changes applied (the name cannot change)."""
    if "name" in changes and changes["name"] != entity.name:
        raise ApiError(422, "name: cannot be changed; create a new one and delete this one", "name")
    return dump(entity.model) | changes


def feed_token(session: Session, kind: str, name: str) -> str:
    """Return the read-only token of one entity's Atom feed (made on first use)."""
    token = session.scalar(select(FeedToken.token).where(FeedToken.kind == kind, FeedToken.name == name))
    if token is None:
        token = secrets.token_urlsafe(24)
        session.add(FeedToken(kind=kind, name=name, token=token))
        try:
            session.commit()
        except IntegrityError:  # made at the same moment by another request
            session.rollback()
            token = session.scalar(
                select(FeedToken.token).where(FeedToken.kind == kind, FeedToken.name == name)
            )
    return token
