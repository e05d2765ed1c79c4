"""`newswatch status`: per-source health and the delivery ledger's totals."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def _when(value: datetime | None, now: datetime) -> str:
    from newswatch.core.schedules import format_duration

    if value is None:
        return "never"
    return f"{format_duration(now - value)} ago" if now >= value else value.isoformat(timespec="seconds")


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Per-source health (last poll, last success, failures, new articles in 24 h) and deliveries."""
    from newswatch.cluster.processes import process_states, queue_depth
    from newswatch.core.models import utcnow
    from newswatch.health import delivery_counts, source_health

    app = ctx.obj
    config = app.view_config()
    now = utcnow()
    with app.read_sessions() as session:
        sources = source_health(session, config, now)
        deliveries = delivery_counts(session)
        processes = process_states(session, now)
        queues = queue_depth(session)
    if as_json:
        print(
            json.dumps(
                {
                    "sources": [
                        {**{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars(s).items()}}
                        for s in sources
                    ],
                    "deliveries": deliveries,
                    "processes": [
                        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in p.items()}
                        for p in processes
                    ],
                    "queues": queues,
                },
                ensure_ascii=False,
            )
        )
        return
    table = Table(title="sources", title_justify="left")
    for column in ("source", "last poll", "last success", "failures", "new 24h", "articles", "state"):
        table.add_column(column, justify="right" if column in ("failures", "new 24h", "articles") else "left")
    for s in sources:
        state = "disabled" if not s.enabled else (s.problem or "ok")
        table.add_row(
            s.name,
            _when(s.last_poll_at, now),
            _when(s.last_success_at, now),
            str(s.consecutive_failures),
            str(s.new_24h),
            str(s.total_articles),
            state,
        )
    console = Console()
    console.print(table)
    console.print(
        f"deliveries: {deliveries['pending']} pending, {deliveries['failed']} failed, {deliveries['sent']} sent"
    )
    if deliveries["failed"]:
        console.print("see `newswatch alerts --failed` for the errors")
    if processes:
        _print_processes(console, processes, queues, now)


def _print_processes(console, processes: list[dict], queues: dict, now: datetime) -> None:
    """The processes of a multi-process deployment (`run --roles`) and the engine's queues."""
    table = Table(title="processes", title_justify="left")
    for column in ("host", "pid", "roles", "state", "last seen", "polling now", "polls", "lag p50/p95"):
        table.add_column(column, justify="right" if column in ("pid", "polls") else "left")
    for p in processes:
        roles = p["roles"] + (" (active scheduler)" if p["leader"] else "")
        lag = "-" if p["lag_p95_s"] is None else f"{p['lag_p50_s']:.1f}s / {p['lag_p95_s']:.1f}s"
        table.add_row(
            p["host"],
            str(p["pid"]),
            roles,
            p["state"],
            _when(p["last_seen"], now),
            ", ".join(p["polls_in_flight"]) or "-",
            str(p["polls_done"]),
            lag,
        )
    console.print(table)
    for queue, depth in sorted(queues.items()):
        late = f", oldest {depth['oldest_wait_s']:.1f}s late" if depth["oldest_wait_s"] else ""
        console.print(f"queue {queue}: {depth['waiting']} waiting, {depth['running']} running{late}")


def register(app: typer.Typer) -> None:
    app.command("status")(status)
