"""`newswatch check`: validate the whole configuration and print what it holds."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table


def check(ctx: typer.Context) -> None:
    """Validate the configuration; exit 2 with one clear line for each problem."""
    from alerts.delivery.channels import redact_url  # Apprise: ~0.5 s that --help must not pay

    config = ctx.obj.config
    console = Console()
    sources = Table(title="sources", title_justify="left")
    for column in ("name", "kind", "every", "url"):
        sources.add_column(column)
    for source in config.sources:
        every = source.schedule.describe() + ("" if source.enabled else " (disabled)")
        sources.add_row(source.name, source.kind, every, source.url)
    rules = Table(title="rules", title_justify="left")
    for column in ("name", "query", "sources"):
        rules.add_column(column)
    for rule in config.rules:
        rules.add_row(rule.name, rule.query, ", ".join(rule.sources or []) or "all")
    subscribers = Table(title="subscribers", title_justify="left")
    for column in ("name", "rules", "delivery", "notify"):
        subscribers.add_column(column)
    for subscriber in config.subscribers:
        schedule = subscriber.digest_schedule
        delivery = "instant" if schedule is None else f"digest {schedule.describe()}"
        if subscriber.admin:
            delivery += ", admin"
        subscribers.add_row(
            subscriber.name,
            ", ".join(subscriber.rules),
            delivery,
            "\n".join(redact_url(u) for u in subscriber.notify),
        )
    from alerts.delivery.render import templates_problems
    from newswatch.core.errors import ConfigError, ConfigProblems

    problems = [ConfigError(str(config.directory), problem) for problem in templates_problems(config)]
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigProblems(problems)
    console.print(sources, rules, subscribers)
    counts = ", ".join(
        _count(len(items), noun)
        for items, noun in (
            (config.sources, "source"),
            (config.rules, "rule"),
            (config.subscribers, "subscriber"),
        )
    )
    from alerts.rules.compiled import matcher_backend

    console.print(f"matcher: {matcher_backend()}", soft_wrap=True)
    console.print(f"config OK: {config.directory}: {counts}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def register(app: typer.Typer) -> None:
    app.command("check")(check)
