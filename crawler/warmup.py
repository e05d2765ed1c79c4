"""Imported by the worker pool's forkserver: load everything the workers run (and run one
tiny extraction, so the modules the extractor loads lazily are imported too) before workers
are forked from it."""

import crawler.feeds
import crawler.ingest
import crawler.sitemaps
import crawler.store  # noqa: F401
from crawler.work import warm_up

warm_up()
