"""The Scrapy add-on that applies the deployment's `crawl:` settings (settings.yaml).

`CrawlManager` builds its settings from the config it was given and marks them
(`NEWSWATCH_CRAWL_SETTINGS_APPLIED`); under plain `scrapy crawl` nothing has, so the add-on
reads `settings.yaml` from the config directory the CLI would use ($NEWSWATCH_CONFIG, else
./config). A broken settings.yaml there leaves Scrapy's defaults in place with a warning:
`scrapy list` keeps working and the spider reports the config error when it starts.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from newswatch.core.config import CrawlSettings, parse_size, resolve_config_dir
from newswatch.core.errors import ConfigError
from newswatch.core.loading import load_settings
from newswatch.core.schedules import parse_duration

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

log = logging.getLogger(__name__)

APPLIED = "NEWSWATCH_CRAWL_SETTINGS_APPLIED"


def config_overrides(crawl: CrawlSettings) -> dict:
    """Return the Scrapy settings that settings.yaml's `crawl:` section controls."""
    return {
        "USER_AGENT": crawl.user_agent,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrent_per_domain,
        "DOWNLOAD_TIMEOUT": parse_duration(crawl.download_timeout).total_seconds(),
        "DOWNLOAD_MAXSIZE": parse_size(crawl.max_page_size),
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        APPLIED: True,
    }


class DeploymentSettings:
    """Scrapy add-on: the `crawl:` settings of the deployment, when the caller did not set them."""

    def update_settings(self, settings: BaseSettings) -> None:
        if settings.getbool(APPLIED):
            return
        directory = resolve_config_dir(None)
        crawl = CrawlSettings()
        if directory.is_dir():
            try:
                crawl = load_settings(directory).crawl
            except ConfigError as exc:
                log.warning("using default crawl settings: %s", exc)
        settings.update(config_overrides(crawl), priority="project")
