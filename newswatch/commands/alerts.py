"""`newswatch alerts`: the delivery ledger; `alerts retry ID`; `alerts send` (one pass now)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from newswatch.core.errors import UserError

alerts_app = typer.Typer(
    help="Recent alerts and digests with each destination's delivery state; retry; send now.",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


@alerts_app.callback()
def show(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help="Only alerts with a failed delivery.")] = False,
    pending: Annotated[
        bool, typer.Option("--pending", help="Only alerts with a delivery not yet sent.")
    ] = False,
    subscriber: Annotated[
        str | None, typer.Option("--subscriber", "-s", metavar="NAME", help="Only this subscriber.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many alerts and digests.")] = 20,
) -> None:
    """Show recent alerts and digests, newest first, with every destination's state."""
    if ctx.invoked_subcommand is not None:
        return
    from alerts.delivery.ledger import ledger

    app = ctx.obj
    with app.read_sessions() as session:
        if subscriber and subscriber not in {s.name for s in app.view_config().subscribers}:
            from sqlalchemy import exists, select

            from newswatch.core.models import Alert

            if not session.scalar(select(exists().where(Alert.subscriber == subscriber))):
                raise UserError(
                    f"--subscriber: no subscriber named {subscriber!r} in the config or the ledger"
                )
        entries = ledger(session, failed=failed, pending=pending, subscriber=subscriber, limit=limit)
    if not entries:
        what = " ".join(w for w, on in (("failed", failed), ("pending", pending)) if on)
        print(f"no {what + ' ' if what else ''}alerts" + (f" for {subscriber}" if subscriber else ""))
        return
    for entry in entries:
        head = f"{entry.kind} {entry.id}  {_when(entry.created_at)}  {entry.subscriber}"
        if entry.rules:
            head += f"  [{', '.join(entry.rules)}]"
        print(head)
        print(f"  {entry.title}")
        if entry.waiting_for_digest:
            print("  waiting for the next digest")
        elif entry.kind == "alert" and entry.digest_id is not None:
            print(f"  sent in digest {entry.digest_id}")
        for d in entry.deliveries:
            tries = f"{d.attempts} attempt{'s' if d.attempts != 1 else ''}"
            line = f"  delivery {d.id}  {d.status:<7}  {d.destination}  {tries}"
            if d.status == "sent":
                line += f", sent {_when(d.sent_at)}"
            elif d.status == "pending" and d.attempts:
                line += f", next attempt {_when(d.next_attempt_at)}"
            print(line)
            if d.last_error:
                print(f"    last error: {d.last_error}")


@alerts_app.command("retry")
def retry_command(
    ctx: typer.Context,
    alert_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="Alert id: re-queue its unsent deliveries.")
    ] = None,
    delivery: Annotated[
        int | None, typer.Option("--delivery", "-d", metavar="ID", help="One delivery by id.")
    ] = None,
    digest: Annotated[
        int | None, typer.Option("--digest", metavar="ID", help="A digest's unsent deliveries.")
    ] = None,
) -> None:
    """Re-queue failed (or pending) deliveries now; sent ones are never sent twice."""
    from alerts.delivery.ledger import retry

    given = [v for v in (alert_id, delivery, digest) if v is not None]
    if len(given) != 1:
        raise UserError("alerts retry: give one alert ID, or --delivery ID, or --digest ID")
    what = (
        f"alert {alert_id}"
        if alert_id is not None
        else f"delivery {delivery}"
        if delivery
        else f"digest {digest}"
    )
    with ctx.obj.sessions() as session:
        try:
            result = retry(session, alert_id=alert_id, delivery_id=delivery, digest_id=digest)
        except LookupError as exc:
            raise UserError(f"alerts retry: {exc}") from None
        for d in result.requeued:
            print(f"delivery {d.id}  {d.destination}: queued for a new attempt")
        for d in result.in_flight:
            print(f"delivery {d.id}  {d.destination}: being sent right now, left alone")
        for d in result.already_sent:
            print(f"delivery {d.id}  {d.destination}: already sent {_when(d.sent_at)}, not sent again")
        if not result.requeued and not result.in_flight and not result.already_sent:
            print(f"{what}: no deliveries (a digest subscriber's alert goes out with its digest)")


@alerts_app.command("send")
def send_command(
    ctx: typer.Context,
    max_seconds: Annotated[
        float, typer.Option("--max-seconds", help="Stop dispatching after this long.", min=1)
    ] = 120.0,
    due_only: Annotated[
        bool,
        typer.Option(
            "--due-only",
            help="Only deliveries whose next attempt is due (as the service does); "
            "by default every pending delivery is tried now, once.",
        ),
    ] = False,
) -> None:
    """One pass now: match new articles, close due digests, send every pending delivery."""
    from sqlalchemy import func, select

    from alerts.delivery.digests import close_due_digests
    from alerts.delivery.dispatcher import dispatch_until_idle
    from alerts.delivery.outbox import process_new_articles
    from alerts.delivery.render import templates_problems
    from newswatch.core.db import session_scope
    from newswatch.core.models import Delivery

    app = ctx.obj
    config = app.config
    for problem in templates_problems(config):
        print(f"warning: {problem} (the built-in template is used instead)")
    compiled = app.compile_rules()
    with session_scope(app.sessions) as session:
        matched = process_new_articles(session, config, compiled)
    with session_scope(app.sessions) as session:
        digests = close_due_digests(session, config, on_start=True)
    attempted = dispatch_until_idle(app.dispatcher(), max_seconds=max_seconds, due_only=due_only)
    with app.sessions() as session:
        counts = dict(session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    print(
        f"matched {matched} new article{'s' if matched != 1 else ''}, closed {digests} "
        f"digest{'s' if digests != 1 else ''}, attempted {attempted} "
        f"deliver{'ies' if attempted != 1 else 'y'}; ledger: {counts.get('sent', 0)} sent, "
        f"{counts.get('pending', 0)} pending, {counts.get('failed', 0)} failed"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
