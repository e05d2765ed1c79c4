"""Extraction stages: charset decoding, page metadata, dates, article body (see crawler/extract.py)."""
