"""crawler: the Scrapy project (spiders, downloader middlewares, item pipelines) and article
extraction — the fetch → extract → store stages of the data's path."""
