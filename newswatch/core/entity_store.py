"""What the API made, as stored: the entities, the change counter and the installation key.

`config_revision` is a counter bumped in the transaction of every change (`bump_revision`):
the running service reads it every second and rebuilds what depends on the config when it moves.
The merging of these entities with the config files is `core.managed`'s part.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from newswatch.core.errors import UserError
from newswatch.core.runtime_models import ConfigRevision, Installation, ManagedEntity


def load_managed(session: Session) -> list[ManagedEntity]:
    """Return every stored entity, in the order they were made."""
    return list(session.scalars(select(ManagedEntity).order_by(ManagedEntity.id)))


def config_revision(session: Session) -> int:
    """Return the counter of changes to the managed entities."""
    return session.scalar(select(ConfigRevision.value).where(ConfigRevision.id == 1)) or 0


def bump_revision(session: Session) -> None:
    """Count one change (call in the transaction that makes it)."""
    updated = session.execute(
        update(ConfigRevision).where(ConfigRevision.id == 1).values(value=ConfigRevision.value + 1)
    )
    if not updated.rowcount:
        session.add(ConfigRevision(id=1, value=1))


_secrets: dict[str, bytes] = {}


def installation_secret(session: Session) -> bytes:
    """Return this installation's secret key (read once per database and process)."""
    bind = session.get_bind().url.render_as_string(hide_password=False)
    found = _secrets.get(bind)
    if found is None:
        value = session.scalar(select(Installation.secret).where(Installation.id == 1))
        if value is None:  # a database from before migration 0007 that was not upgraded
            raise UserError("the database has no installation key: run `newswatch db upgrade`")
        found = _secrets[bind] = bytes.fromhex(value)
    return found
