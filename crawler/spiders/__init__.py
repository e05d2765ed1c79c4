"""Spiders, one per kind of source: `feed` (RSS / Atom), `sitemap` (sitemaps, indexes and
Google News sitemaps) and `listing` (an HTML page of article links).

    scrapy crawl feed -a source=nasa-news      # from the repository root

Each crawl is one poll of one configured source (sources.yaml); article pages go through the
store pipeline. `newswatch crawl` and the service run the same spiders.
"""
