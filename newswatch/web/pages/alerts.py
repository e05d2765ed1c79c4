"""`/alerts`: the delivery ledger — each alert, and for each destination its status, attempts,
last error and next retry; a failed or waiting delivery can be sent again from here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from newswatch.web.errors import ApiError
from newswatch.web.pages.base import done, form_fields, page_user, posted, render
from newswatch.web.routes_articles import list_alerts, retry_delivery

router = APIRouter(include_in_schema=False)
STATUSES = ("", "pending", "sent", "failed")


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, status: str = "", limit: int = 50) -> HTMLResponse:
    context = request.app.state.context
    status = status if status in STATUSES else ""
    limit = max(1, min(limit, 500))
    with context.session() as session:
        principal = page_user(request, session)
        alerts = list_alerts(request, status or None, limit, session, principal)
    return render(
        request,
        "alerts.html",
        principal,
        title="Alerts",
        alerts=alerts,
        wanted=status,
        statuses=STATUSES,
        limit=limit,
        more=len(alerts) >= limit,
    )


@router.post("/alerts/deliveries/{delivery_id}/retry")
@posted
def retry(request: Request, form_data: FormData, delivery_id: int) -> Response:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        fields = form_fields(request, principal, form_data)
        status = {"status": fields["status"]} if fields.get("status") in STATUSES[1:] else {}
        try:
            retry_delivery(delivery_id, request, session, principal)
        except ApiError as exc:
            return done("/alerts", exc.message, status)
    return done("/alerts", f"delivery {delivery_id} is queued to be sent again now", status)
