"""Scrapy commands of this project (`COMMANDS_MODULE`): `scrapy crawl` checks its source first."""
