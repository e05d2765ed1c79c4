"""Scrapy settings of the newswatch crawler (`scrapy.cfg` points here).

Politeness and safety, all on by default: robots.txt obeyed (cached for an hour), AutoThrottle,
at most `crawl.concurrent_per_domain` (2) requests per domain, an honest User-Agent, a
download timeout, retries with backoff that honour Retry-After, a download size limit, only
http(s) download handlers, no cookies, and the SSRF guard in front of every request.

The values that `settings.yaml` controls (`crawl:` user_agent, concurrent_per_domain,
download_timeout, max_page_size, obey_robots) are applied by the `crawler.addons` add-on when
a crawler is made: from the config the `CrawlManager` was given, or, under plain `scrapy crawl`,
from the config directory ($NEWSWATCH_CONFIG, else ./config). Nothing is read at import time.
"""

from __future__ import annotations

BOT_NAME = "newswatch"
SPIDER_MODULES = ["crawler.spiders"]
COMMANDS_MODULE = "crawler.commands"  # `scrapy crawl` checks its source before crawling
NEWSPIDER_MODULE = "crawler.spiders"

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TELNETCONSOLE_ENABLED = False
# Scrapy's remote control would start, for every poll, an HTTP server on localhost that runs
# Python code sent to it (token in a file under the user's profile), and its start and stop
# cost CPU on every poll. Nobody drives the crawler that way.
REMOTE_CONTROL_ENABLED = False
COOKIES_ENABLED = False
LOG_LEVEL = "INFO"

# Politeness.
# A feed's URL may carry a key (`?apikey=`): no Referer leaves the source's own origin.
REFERRER_POLICY = "same-origin"
ROBOTSTXT_OBEY = True
ROBOTSTXT_CACHE_SECONDS = 3600
CONCURRENT_REQUESTS = 32
# Spider output is handled by this many asyncio tasks per response (plus one that feeds them);
# an article page yields one item and a feed only requests (scheduled without waiting), so one
# is enough — Scrapy's default (100) costs ~200 task creations per page for nothing.
CONCURRENT_ITEMS = 1
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Requests of one priority leave in the order the spider made them: article requests are made
# newest first (Scrapy's default memory queue is LIFO).
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = True
# Each poll is a new crawl that starts at this delay between requests to one host, then adapts
# to the server (at least its response time); 0.5 s keeps alert latency low and stays polite.
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Limits, retries.
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
DNS_TIMEOUT = 20
REDIRECT_MAX_TIMES = 5
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [408, 429, 500, 502, 503, 504, 522, 524]
RETRY_BACKOFF_BASE = 1.0
RETRY_BACKOFF_MAX = 60.0
RETRY_AFTER_MAX = 120.0
RETRY_GIVE_UP_LOG_LEVEL = "INFO"

# Only http(s): no file://, ftp://, s3:// or data: downloads, whatever a feed links to.
DOWNLOAD_HANDLERS = {"file": None, "ftp": None, "s3": None, "data": None}

SSRF_GUARD_RESOLVER = "crawler.ssrf.resolve_host"
DOWNLOADER_MIDDLEWARES = {
    "crawler.ssrf.SsrfGuardMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.CachedRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.ConditionalGetMiddleware": 560,
}
ITEM_PIPELINES = {"crawler.pipelines.StorePipeline": 300}
EXTENSIONS = {"scrapy.extensions.logstats.LogStats": None, "crawler.polls.PollRecorder": 100}
ADDONS = {"crawler.addons.DeploymentSettings": 0}
