"""`scrapy crawl feed|sitemap|listing -a source=NAME`, with the source checked before the
crawl starts: a wrong or missing name is one usage line and exit status 2, not a traceback
from inside the crawl."""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from crawler.spiders.base import source_to_crawl
from newswatch.core.errors import UserError
from newswatch.core.loading import load_config


class Command(ScrapyCrawl):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1:
            assert self.crawler_process
            spider = self.crawler_process.spider_loader.load(args[0])
            kind = getattr(spider, "kind", "")
            if kind:
                try:
                    source_to_crawl(load_config(None), kind, opts.spargs.get("source"))
                except (ValueError, UserError) as exc:
                    raise UsageError(str(exc), print_help=False) from None
        super().run(args, opts)
