"""Imported by the extraction pool's forkserver: run one tiny extraction so that every module
the extractor loads lazily is already imported when workers are forked from it."""

from crawler.work import warm_up

warm_up()
