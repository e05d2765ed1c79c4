"""`newswatch match`: which rules match each article of a JSON-lines file (or stdin).

Input lines: {"id": …, "title": "…", "text": "…"} (optionally "source": "name", which limits
rules that have `sources:`). Output: one line per input line, in order:
{"id": …, "rules": [names…], "hits": {rule: {"title": […], "text": […]}}} (and "snippets"
with --snippets). A malformed rules file or rule, or a malformed input line, is one error
line naming it, exit 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from newswatch.core.errors import UserError


def read_articles(stream: IO[str], name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, article) for each non-blank line; a bad line is a UserError."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{name} line {number}: not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(item, dict):
            raise UserError(f'{name} line {number}: expected an object like {{"id", "title", "text"}}')
        for key in ("title", "text", "source"):
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise UserError(f"{name} line {number}: '{key}' must be a string")
        yield number, item


def match(
    ctx: typer.Context,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules", "-r", metavar="FILE", help="A rules.yaml file (default: the config's rules)."
        ),
    ] = None,
    articles: Annotated[
        Path | None,
        typer.Option(
            "--articles", "-a", metavar="FILE", help="JSON lines {id, title, text} (default: stdin)."
        ),
    ] = None,
    snippets: Annotated[bool, typer.Option("--snippets", help="Also output each match's snippet.")] = False,
) -> None:
    """Match articles (JSON lines) against rules; print one JSON line per article."""
    from alerts.rules.compiled import compile_rules
    from newswatch.app import load_checked_rules
    from newswatch.core.bulk import keep_for_good

    rule_list = load_checked_rules(rules) if rules is not None else ctx.obj.config.rules
    compiled = compile_rules(rule_list)
    keep_for_good()  # the rules live until the command ends: the collector leaves them alone
    if articles is not None:
        try:
            stream: IO[str] = articles.open(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"--articles: cannot read {articles} ({exc.strerror})") from None
        name = str(articles)
    else:
        stream, name = sys.stdin, "stdin"
    try:
        for _, item in read_articles(stream, name):
            found = compiled.match(item.get("title") or "", item.get("text") or "", item.get("source"))
            out: dict[str, Any] = {
                "id": item.get("id"),
                "rules": [m.rule for m in found],
                "hits": {m.rule: m.hits for m in found},
            }
            if snippets:
                out["snippets"] = {m.rule: m.snippet for m in found}
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except UnicodeDecodeError as exc:
        raise UserError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    finally:
        if stream is not sys.stdin:
            stream.close()


def register(app: typer.Typer) -> None:
    app.command("match")(match)
