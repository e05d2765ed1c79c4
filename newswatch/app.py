"""The application object: one deployment as the CLI options name it, built once.

`App` resolves the config directory, loads and checks the configuration (with the checks the
stages own: queries parse, Apprise knows every notify URL), resolves the database and opens it
(schema migrated on first use), and hands out the stages' entry points — the compiled rules,
the dispatcher, the crawl manager — built from that one config and that one database. The
service, every CLI command, the demo and the tests take what they need from it instead of
resolving anything again.

Secrets from the config (notify URLs' passwords and tokens, the database password) are
registered with the log formatter when the config is loaded, so a stray one in a log line is
masked.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alerts.rules.query import query_problem
from crawler.addresses import source_url_problem
from newswatch.core.bulk import keep_for_good
from newswatch.core.config import Config, Rule, resolve_config_dir, resolve_database_url
from newswatch.core.errors import UserError
from newswatch.core.loading import ConfigChecks, load_config, load_rules, load_settings
from newswatch.core.logs import register_secret
from newswatch.core.managed import merge_config
from newswatch.core.redact import display_url, url_secret_parts

if TYPE_CHECKING:  # the stages' entry points are imported by the methods that build them
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from alerts.delivery.dispatcher import Dispatcher
    from alerts.rules.compiled import CompiledRules
    from crawler.runner import CrawlManager
    from newswatch.core.db import Database
    from newswatch.core.runtime_models import ManagedEntity

log = logging.getLogger("newswatch.app")

# What a command that only shows stored state needs: the config's structure, its queries and
# source URLs. The notify URLs (Apprise, ~0.4 s to load its plugins) and the rule examples are
# checked by `check`, `run`, the API and every command that sends or matches.
VIEW_CHECKS = ConfigChecks(query=query_problem, source_url=source_url_problem)


def full_checks(notify: bool = True) -> ConfigChecks:
    """Every stage's checks: queries, rule examples, source URLs and, unless `notify` is False
    (a rules file holds no notify URL), notify URLs through Apprise."""
    # The matcher and Apprise load here, not when this module is imported: `status` and
    # `alerts` never need them, and `match --rules` never needs Apprise (~0.5 s).
    from alerts.rules.examples import example_problems

    checks = ConfigChecks(query=query_problem, source_url=source_url_problem, examples=example_problems)
    if not notify:
        return checks
    from alerts.delivery.channels import url_problem, url_secrets

    return replace(checks, notify_url=url_problem, notify_secrets=url_secrets)


def __getattr__(name: str) -> Any:
    if name == "CONFIG_CHECKS":  # the web layer's name for full_checks()
        return full_checks()
    raise AttributeError(name)


def load_checked_config(directory: str | Path | None) -> Config:
    """Return the configuration in `directory`, with every stage's checks applied."""
    checks = full_checks()
    config = load_config(directory, checks)
    _register_config_secrets(config, checks)
    return config


def load_checked_rules(path: Path) -> list[Rule]:
    """Return the rules of one rules file, queries checked (`newswatch match --rules`)."""
    return load_rules(path, full_checks(notify=False))


def _register_config_secrets(config: Config, checks: ConfigChecks) -> None:
    """Mask every notify URL's and source URL's secret parts in every log line from now on
    (Apprise knows where each service keeps its token: `tgram://BOTTOKEN/…`)."""
    for subscriber in config.subscribers:
        for url in subscriber.notify:
            for secret in checks.notify_secrets(url):
                register_secret(secret)
    for source in config.sources:
        for secret in url_secret_parts(source.url):
            register_secret(secret)


@dataclass
class App:
    """Global options (config directory, database URL, log format) and what they lead to,
    each built once, on first use."""

    config_option: str | Path | None = None
    db_option: str | None = None
    log_format: str = "text"

    @cached_property
    def config_dir(self) -> Path:
        return resolve_config_dir(self.config_option)

    @cached_property
    def config(self) -> Config:
        return load_checked_config(self.config_dir)

    def view_config(self) -> Config:
        """The config files and the API's entities, checked as far as showing stored state
        needs (VIEW_CHECKS): for `status` and `alerts`, which load neither Apprise nor the
        matcher. A broken file is still an error naming it."""
        files = self.__dict__.get("config") or load_config(self.config_dir, VIEW_CHECKS)
        _revision, managed = self._stored_entities(self.read_sessions)
        config, _problems = merge_config(files, managed, VIEW_CHECKS)
        for subscriber in config.subscribers:
            for url in subscriber.notify:
                for secret in url_secret_parts(url):
                    register_secret(secret)
        return config

    def reload_config(self) -> Config:
        """Return the config read afresh (SIGHUP); the caller decides whether to switch to it."""
        return load_checked_config(self.config_dir)

    def managed_config(self, file_config: Config | None = None) -> tuple[Config, int]:
        """Return the config files' config with the sources, rules and subscribers made through
        the API added (newswatch.core.managed), and the config revision it reflects."""
        revision, managed = self._stored_entities(self.sessions)
        checks = full_checks()
        config, problems = merge_config(file_config or self.config, managed, checks)
        for problem in problems:
            log.warning(problem)
        _register_config_secrets(config, checks)
        return config, revision

    def config_revision(self) -> int:
        """Return the counter of changes made through the API (read every second by the service)."""
        return self._stored_entities(self.sessions, entities=False)[0]

    def _stored_entities(
        self, sessions: sessionmaker[Session], *, entities: bool = True
    ) -> tuple[int, list[ManagedEntity]]:
        # SQLAlchemy's ORM loads with the first command that opens the database (~0.4 s that
        # `check` and `--help` never pay); see also `database`.
        from newswatch.core.entity_store import config_revision, load_managed

        with sessions() as session:
            return config_revision(session), (load_managed(session) if entities else [])

    @cached_property
    def database_url(self) -> str:
        if "config" in self.__dict__:
            settings = self.config.settings
        else:  # `db upgrade` and friends work with only settings.yaml present
            settings = load_settings(self.config_dir) if self.config_dir.is_dir() else None
        url = resolve_database_url(self.db_option, settings)
        named = settings.database_url if settings else None
        if named and url != named:
            print(
                f"newswatch: using database {display_url(url)} (settings.yaml names {display_url(named)})",
                file=sys.stderr,
            )
        for secret in url_secret_parts(url):  # the password, also as ?password=
            register_secret(secret)
        return url

    @cached_property
    def database(self) -> Database:
        from newswatch.core.db import Database  # SQLAlchemy: not for `check`, see _stored_entities

        return Database(self.database_url)

    @property
    def engine(self) -> Engine:
        """The engine, with the schema migrated to the newest revision first."""
        return self.database.engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.database.sessions

    @property
    def read_sessions(self) -> sessionmaker[Session]:
        """Sessions for a command that only reads: a SQLite file that does not exist is an error
        naming it, not a new empty database (a command run from the wrong folder would otherwise
        create ./var/newswatch.db and report that nothing happened)."""
        path = self.database.sqlite_file
        if path is not None and not path.exists():
            raise UserError(
                f"no database at {path}: nothing has been stored there yet; give --db URL "
                "(or database_url in settings.yaml), or run from the deployment's folder"
            )
        return self.database.sessions

    # ------------------------------------------------------------------ the stages

    def compile_rules(self, config: Config | None = None) -> CompiledRules:
        """Return the config's rules compiled into one matcher."""
        from alerts.rules.compiled import compile_rules  # with the C chunk table: only when matching

        compiled = compile_rules((config or self.config).rules)
        keep_for_good()  # rules live long: the cyclic collector stops walking them (core.bulk)
        return compiled

    def dispatcher(self, config: Config | None = None) -> Dispatcher:
        """Return a dispatcher that sends this deployment's due deliveries."""
        from alerts.delivery.dispatcher import Dispatcher  # outbox, digests, ledger: not for `status`

        return Dispatcher(config or self.config, self.sessions)

    def crawl_manager(self, config: Config | None = None, **options: Any) -> CrawlManager:
        """Return a crawl manager (worker pool included) on this config and database."""
        from crawler.runner import CrawlManager  # Scrapy and Twisted: ~0.5 s of imports

        return CrawlManager(config or self.config, self.database, **options)

    def close(self) -> None:
        """Release the database's connections."""
        if "database" in self.__dict__:
            self.database.dispose()
