"""What every command needs, resolved once: the config directory, the config, the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from newswatch.core.config import Config, load_config, load_settings, resolve_config_dir, resolve_database_url
from newswatch.core.db import make_engine, session_factory, upgrade


@dataclass
class AppContext:
    """Global CLI options and the objects derived from them, created on first use."""

    config_option: str | None = None
    db_option: str | None = None
    log_format: str = "text"
    _migrated: bool = field(default=False, repr=False)

    @cached_property
    def config_dir(self) -> Path:
        return resolve_config_dir(self.config_option)

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_dir)

    @cached_property
    def database_url(self) -> str:
        settings = None
        if (self.config_dir / "settings.yaml").exists():
            settings = load_settings(self.config_dir)
        return resolve_database_url(self.db_option, settings)

    @cached_property
    def engine(self) -> Engine:
        """The engine, with the schema migrated to the newest revision first."""
        upgrade(self.database_url)
        return make_engine(self.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)
