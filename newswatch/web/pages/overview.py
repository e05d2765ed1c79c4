"""`/`: the overview a desk opens first: how every source is doing (last poll, last new article,
failures, silence), the newest alerts and what waits or failed in the delivery ledger."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from newswatch.core.models import Alert, Article, Delivery, utcnow
from newswatch.health import source_health
from newswatch.web.pages.base import page_user, render
from newswatch.web.routes_articles import _visible_subscribers, list_alerts

router = APIRouter(include_in_schema=False)
RECENT_ALERTS = 10
_DAY = timedelta(hours=24)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        config = context.effective_config(session)
        sources = source_health(session, config, utcnow())
        visible = _visible_subscribers(request, session, principal)
        counts = _delivery_counts(session, visible)
        day_ago = utcnow() - _DAY
        new_today = session.scalar(select(func.count(Article.id)).where(Article.fetched_at >= day_ago)) or 0
        alerts = list_alerts(request, None, RECENT_ALERTS, session, principal)
    failing = [s for s in sources if s.problem and s.problem.startswith("failing")]
    silent = [s for s in sources if s.problem and s.problem.startswith("silent")]
    return render(
        request,
        "overview.html",
        principal,
        title="Overview",
        sources=sources,
        failing=failing,
        silent=silent,
        counts=counts,
        new_today=new_today,
        alerts=alerts,
    )


def _delivery_counts(session, visible: set[str] | None) -> dict[str, int]:
    statement = select(Delivery.status, func.count(Delivery.id)).join(Alert, Alert.id == Delivery.alert_id)
    if visible is not None:
        statement = statement.where(Alert.subscriber.in_(sorted(visible) or [""]))
    found = dict(session.execute(statement.group_by(Delivery.status)).all())
    return {status: found.get(status, 0) for status in ("pending", "sent", "failed")}
