"""`newswatch extract FILE… [--url URL]`: the extracted article of each saved page, as JSON lines.

One JSON object per file, in input order, with the keys `file`, `url`, `canonical_url`, `title`,
`authors`, `published`, `updated`, `language`, `description`, `site_name`, `text`. All files are
read before anything is printed, so an unreadable file ends the command (exit 2, one line naming
it) without partial output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from newswatch.core.errors import UserError

KEYS = (
    "url",
    "canonical_url",
    "title",
    "authors",
    "published",
    "updated",
    "language",
    "description",
    "site_name",
    "text",
    "live",
)


def _read_page(path: Path) -> bytes:
    """Return the raw bytes of a saved page (gzip-compressed files are decompressed)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if data[:2] == b"\x1f\x8b":
        import gzip

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise UserError(f"{path}: cannot read: broken gzip data ({exc})") from None
    return data


def extract(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE…", help="Saved HTML pages (.html or .html.gz).")
    ],
    url: Annotated[
        str | None,
        typer.Option("--url", metavar="URL", help="The URL the page(s) came from (resolves relative links)."),
    ] = None,
) -> None:
    """Print the extracted article of each HTML file as one JSON object per line."""
    from crawler.extract import extract_article

    pages = [(path, _read_page(path)) for path in files]
    out = sys.stdout
    for path, data in pages:
        article = extract_article(data, url=url).to_json()
        row = {"file": str(path), **{key: article[key] for key in KEYS}}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.flush()


def register(app: typer.Typer) -> None:
    app.command("extract")(extract)
