"""`newswatch match`: which rules match each article of a JSON-lines file (or stdin).

Input lines: {"id": …, "title": "…", "text": "…"} (optionally "source": "name", which limits
rules that have `sources:`). Output: one line per input line, in order:
{"id": …, "rules": [names…], "hits": {rule: {"title": […], "text": […]}}} (and "snippets"
with --snippets). A malformed rules file or rule, or a malformed input line, is one error
line naming it, exit 2.

A file of articles is matched by one process per core (`--jobs`): they are forked once the
rules are compiled, so each starts with them, and take the lines in chunks; this process
reads the lines and writes the answers in input order. Standard input is matched here, a
line answered as soon as it is read, unless `--jobs` says otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from newswatch.core.bulk import collector_paused
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
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Processes that match (default: one per core for --articles, 1 for stdin).",
        ),
    ] = None,
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
    if jobs is None:
        jobs = 1 if articles is None else os.cpu_count() or 1
    try:
        if jobs > 1:
            _write_in_processes(compiled, read_articles(stream, name), snippets, jobs)
        else:
            for _, item in read_articles(stream, name):
                sys.stdout.write(_answer(compiled, item, snippets))
        sys.stdout.flush()
    except UnicodeDecodeError as exc:
        raise UserError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    finally:
        if stream is not sys.stdin:
            stream.close()


def _answer(compiled: Any, item: dict[str, Any], snippets: bool) -> str:
    """The output line of one article. The matches of an article with hundreds of them are
    thousands of small objects without cycles: the collector is paused while they live, and
    they are gone when it resumes, so it never walks them (`newswatch.core.bulk`)."""
    with collector_paused():
        return _answer_line(compiled, item, snippets)


def _answer_line(compiled: Any, item: dict[str, Any], snippets: bool) -> str:
    found = compiled.match(item.get("title") or "", item.get("text") or "", item.get("source"))
    out: dict[str, Any] = {
        "id": item.get("id"),
        "rules": [m.rule for m in found],
        "hits": {m.rule: m.hits for m in found},
    }
    if snippets:
        out["snippets"] = {m.rule: m.snippet for m in found}
    return _encode(out) + "\n"


# Answers are trees of dicts, lists and strings just made: no cycles to look for.
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


CHUNK = 32  # articles per task: enough to make a task's overhead small, few enough to stream
_forked: tuple[Any, bool] | None = None  # what the forked workers match with (set before fork)


def _answer_chunk(chunk: list[dict[str, Any]]) -> str:
    compiled, snippets = _forked  # type: ignore[misc]
    return "".join(_answer(compiled, item, snippets) for item in chunk)


def _write_in_processes(
    compiled: Any, items: Iterator[tuple[int, dict[str, Any]]], snippets: bool, jobs: int
) -> None:
    """Match `items` in `jobs` forked processes, writing their answers in input order. A bad
    input line stops the reading there, as in one process: the lines before it are answered."""
    import multiprocessing

    from crawler.pool import watch_parent

    global _forked
    _forked = (compiled, snippets)
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs, initializer=watch_parent, initargs=(os.getpid(),)) as pool:
        pending: deque[Any] = deque()

        def send(chunk: list[dict[str, Any]]) -> None:
            pending.append(pool.apply_async(_answer_chunk, (chunk,)))
            while len(pending) > 2 * jobs:  # a bounded window: memory stays flat on any input
                sys.stdout.write(pending.popleft().get())

        def finish(chunk: list[dict[str, Any]]) -> None:
            if chunk:
                send(chunk)
            while pending:
                sys.stdout.write(pending.popleft().get())

        chunk: list[dict[str, Any]] = []
        try:
            for _, item in items:
                chunk.append(item)
                if len(chunk) == CHUNK:
                    send(chunk)
                    chunk = []
        except (UserError, UnicodeDecodeError):
            finish(chunk)
            raise
        finish(chunk)


def register(app: typer.Typer) -> None:
    app.command("match")(match)
