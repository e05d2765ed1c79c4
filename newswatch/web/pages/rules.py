"""`/rules`, `/rules/new`, `/rules/{name}`: the rule list and the editor.

The editor works without JavaScript (a "Test on the archive" button renders the preview, and
"Save" checks the query, its examples and its sources exactly as the API does); with it, the
query is checked as it is typed and the last 30 days' matches (hits per day, samples with the
hits marked) and, for a saved rule, what the edit adds and removes appear within a second
(static/app.js, through the API's `rules/test` and `rules/{name}/diff`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from starlette.datastructures import FormData

from alerts.rules.trial import diff_queries, try_query
from newswatch.core.errors import UserError
from newswatch.core.models import Match, utcnow
from newswatch.web.common import checked_query, since_cutoff
from newswatch.web.entities import Entities
from newswatch.web.errors import ApiError
from newswatch.web.pages.base import done, form_fields, page_user, posted, render
from newswatch.web.routes_rules import RuleIn, RulePatch, change_rule, create_rule, delete_rule, rule_json

router = APIRouter(include_in_schema=False)
PREVIEW_SINCE = "30d"
PREVIEW_SAMPLES = 8


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request) -> HTMLResponse:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        rules = [rule_json(request, session, e) for e in Entities(session, context, principal, "rule").all()]
        month_ago = utcnow() - timedelta(days=30)
        counts = dict(
            session.execute(
                select(Match.rule, func.count(Match.id))
                .where(Match.created_at >= month_ago)
                .group_by(Match.rule)
            ).all()
        )
    return render(request, "rules.html", principal, title="Rules", rules=rules, counts=counts)


def _blank() -> dict[str, Any]:
    return {
        "name": "",
        "query": "",
        "sources": [],
        "enabled": True,
        "match": "",
        "no_match": "",
        "origin": "api",
    }


def _from_rule(rule: dict[str, Any]) -> dict[str, Any]:
    examples = rule.get("examples") or {}
    return {
        "name": rule["name"],
        "query": rule["query"],
        "sources": rule.get("sources") or [],
        "enabled": rule.get("enabled", True),
        "match": "\n".join(examples.get("match") or []),
        "no_match": "\n".join(examples.get("no_match") or []),
        "origin": rule.get("origin"),
        "file": rule.get("file"),
        "owner": rule.get("owner"),
        "feed_url": rule.get("feed_url"),
    }


def _from_form(fields: dict[str, Any]) -> dict[str, Any]:
    sources = fields.get("sources") or []
    return {
        "name": str(fields.get("name") or "").strip(),
        "query": str(fields.get("query") or ""),
        "sources": [sources] if isinstance(sources, str) else list(sources),
        "enabled": fields.get("enabled") == "on",
        "match": str(fields.get("match") or ""),
        "no_match": str(fields.get("no_match") or ""),
    }


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _body(form: dict[str, Any]) -> dict[str, Any]:
    examples = {"match": _lines(form["match"]), "no_match": _lines(form["no_match"])}
    return {
        "name": form["name"],
        "query": form["query"],
        "sources": form["sources"] or None,
        "enabled": form["enabled"],
        "examples": examples if examples["match"] or examples["no_match"] else None,
    }


def _editor(
    request: Request,
    session,
    principal,
    form: dict[str, Any],
    *,
    saved: dict[str, Any] | None = None,
    status: int = 200,
    error: ApiError | None = None,
    preview: bool = False,
) -> HTMLResponse:
    """Render the editor; with `preview`, the archive trial (and, for a saved rule, the diff)."""
    context = request.app.state.context
    sources = sorted(s.name for s in context.effective_config(session).sources)
    trial = diff = None
    trial_error = error if error is not None and error.field == "query" else None
    if preview and form["query"].strip() and trial_error is None:
        try:
            checked_query(form["query"])
            source = form["sources"][0] if len(form["sources"]) == 1 else None
            trial = try_query(session, form["query"], since_cutoff(PREVIEW_SINCE), source, PREVIEW_SAMPLES)
            if saved is not None and saved["query"] != form["query"]:
                diff = diff_queries(
                    session, saved["query"], form["query"], since_cutoff(PREVIEW_SINCE), source
                )
        except ApiError as exc:
            trial_error = exc
        except UserError as exc:
            trial_error = ApiError(422, str(exc), "query")
    return render(
        request,
        "rule_edit.html",
        principal,
        status,
        title=f"Rule {saved['name']}" if saved else "New rule",
        form=form,
        saved=saved,
        sources=sources,
        error=error if error is not None and error is not trial_error else None,
        query_error=trial_error,
        trial=trial,
        days=_last_days(trial.per_day if trial else {}),
        diff=diff,
    )


def _last_days(per_day: dict[str, int], days: int = 30) -> list[tuple[str, int]]:
    today = utcnow().date()
    return [
        ((today - timedelta(days=n)).isoformat(), per_day.get((today - timedelta(days=n)).isoformat(), 0))
        for n in range(days - 1, -1, -1)
    ]


@router.get("/rules/new", response_class=HTMLResponse)
def new_rule_page(request: Request) -> HTMLResponse:
    with request.app.state.context.session() as session:
        principal = page_user(request, session)
        return _editor(request, session, principal, _blank())


@router.post("/rules/new", response_class=HTMLResponse)
@posted
def new_rule(request: Request, form_data: FormData) -> Response:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        fields = form_fields(request, principal, form_data)
        form = _from_form(fields)
        if fields.get("action") == "test":
            return _editor(request, session, principal, form, preview=True)
        try:
            create_rule(RuleIn.model_validate(_body(form)), request, session, principal)
        except ApiError as exc:
            return _editor(request, session, principal, form, status=exc.status, error=exc, preview=True)
        except ValueError as exc:  # the form's fields do not make a rule at all
            return _editor(request, session, principal, form, status=422, error=ApiError(422, str(exc)))
    return done(f"/rules/{form['name']}", f"rule {form['name']} saved: it applies within seconds")


@router.get("/rules/{name}", response_class=HTMLResponse)
def rule_page(request: Request, name: str) -> HTMLResponse:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        try:
            saved = _from_rule(
                rule_json(request, session, Entities(session, context, principal, "rule").get(name))
            )
        except ApiError:
            return render(request, "missing.html", principal, 404, title="Not found", what=f"rule {name!r}")
        # The 30-day trial is not made here: the page's script asks for it as soon as the page
        # is shown (the page itself stays fast); without JavaScript, "Test on the archive" does.
        return _editor(request, session, principal, dict(saved), saved=saved)


@router.post("/rules/{name}", response_class=HTMLResponse)
@posted
def save_rule(request: Request, form_data: FormData, name: str) -> Response:
    context = request.app.state.context
    with context.session() as session:
        principal = page_user(request, session)
        fields = form_fields(request, principal, form_data)
        try:
            saved = _from_rule(
                rule_json(request, session, Entities(session, context, principal, "rule").get(name))
            )
        except ApiError:
            return render(request, "missing.html", principal, 404, title="Not found", what=f"rule {name!r}")
        action = fields.get("action")
        if action == "delete":
            try:
                delete_rule(name, request, session, principal)
            except ApiError as exc:
                return _editor(
                    request, session, principal, dict(saved), saved=saved, status=exc.status, error=exc
                )
            return done("/rules", f"rule {name} deleted")
        if action == "enable":
            body = {"enabled": fields.get("enabled") == "on"}
            form = dict(saved) | body
        else:
            form = _from_form(fields) | {"name": name}
            if action == "test":
                return _editor(request, session, principal, form, saved=saved, preview=True)
            body = _body(form)
        try:
            change_rule(name, RulePatch.model_validate(body), request, session, principal)
        except ApiError as exc:
            return _editor(
                request, session, principal, form, saved=saved, status=exc.status, error=exc, preview=True
            )
        except ValueError as exc:
            return _editor(
                request, session, principal, form, saved=saved, status=422, error=ApiError(422, str(exc))
            )
    if action == "enable":
        return done("/rules", f"rule {name} {'enabled' if body['enabled'] else 'disabled'}")
    return done(f"/rules/{name}", f"rule {name} saved: it applies within seconds")
