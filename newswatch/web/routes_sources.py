"""`/api/v1/sources`: everyone may list and read them; only admins create, change, delete,
preview and import. OPML export and import; `preview` shows what a source would yield.

Source URLs are shown through the redaction every output uses (userinfo and secret-looking
query values masked).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from crawler.addresses import source_url_problem
from newswatch.core.config import Config, Source
from newswatch.core.models import Source as CrawlState
from newswatch.core.redact import redact_text
from newswatch.web.auth import Principal, current_user, get_session, require_admin
from newswatch.web.common import iso
from newswatch.web.entities import Entities, Entity, merged_fields, validated
from newswatch.web.errors import ApiError
from newswatch.web.opml import OpmlError, parse_opml, render_opml
from newswatch.web.preview import PreviewError, preview

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


class SourceIn(BaseModel):
    """A new source: exactly one of feed, sitemap or listing (with `links`)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    feed: str | None = Field(default=None, max_length=2048)
    sitemap: str | None = Field(default=None, max_length=2048)
    listing: str | None = Field(default=None, max_length=2048)
    links: str | None = Field(default=None, max_length=500)
    every: str = "10m"
    backfill: str = "24h"
    allow_private: bool = False
    enabled: bool = True
    max_articles: int = Field(default=200, ge=1)
    silent_after: str | None = None


class SourcePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    feed: str | None = Field(default=None, max_length=2048)
    sitemap: str | None = Field(default=None, max_length=2048)
    listing: str | None = Field(default=None, max_length=2048)
    links: str | None = Field(default=None, max_length=500)
    every: str | None = None
    backfill: str | None = None
    allow_private: bool | None = None
    enabled: bool | None = None
    max_articles: int | None = Field(default=None, ge=1)
    silent_after: str | None = None


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feed: str | None = Field(default=None, max_length=2048)
    sitemap: str | None = Field(default=None, max_length=2048)
    listing: str | None = Field(default=None, max_length=2048)
    links: str | None = Field(default=None, max_length=500)
    allow_private: bool = False


def _sources(request: Request, session: Session, principal: Principal) -> Entities:
    return Entities(session, request.app.state.context, principal, "source")


def check_source(fields: dict[str, Any]) -> Source:
    """Return the source, or a 422 naming the field (a URL the crawler would refuse included)."""
    source = validated("source", fields)
    problem = source_url_problem(source.url, source.allow_private)
    if problem:
        raise ApiError(422, f"{source.kind}: {problem}", source.kind)
    return source


def source_json(entity: Entity) -> dict[str, Any]:
    source: Source = entity.model
    row = entity.row
    return {
        "name": source.name,
        "kind": source.kind,
        "url": redact_text(source.url),
        source.kind: redact_text(source.url),
        "links": source.links,
        "every": source.every,
        "backfill": source.backfill,
        "allow_private": source.allow_private,
        "enabled": source.enabled,
        "max_articles": source.max_articles,
        "silent_after": source.silent_after,
        "origin": entity.origin,
        "file": entity.file,
        "owner": entity.owner,
        "created_at": iso(row.created_at) if row else None,
        "updated_at": iso(row.updated_at) if row else None,
    }


@router.get("")
def list_sources(
    request: Request, session: Session = Depends(get_session), principal: Principal = Depends(current_user)
) -> list[dict[str, Any]]:
    return [source_json(e) for e in _sources(request, session, principal).all()]


@router.post("", status_code=201)
def create_source(
    body: SourceIn,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(require_admin),
) -> dict[str, Any]:
    sources = _sources(request, session, principal)
    return source_json(sources.create(check_source(body.model_dump(exclude_unset=True))))


@router.post("/preview")
def preview_source(
    body: PreviewIn, request: Request, principal: Principal = Depends(require_admin)
) -> dict[str, Any]:
    """What the source would yield: discovered article URLs and the first one, extracted."""
    kinds = [k for k in ("feed", "sitemap", "listing") if getattr(body, k)]
    if len(kinds) != 1:
        raise ApiError(422, "give exactly one of feed, sitemap or listing", "feed")
    kind = kinds[0]
    if kind == "listing" and not body.links:
        raise ApiError(422, "links: a listing needs the CSS selector of its article links", "links")
    config: Config = request.app.state.context.file_config()
    try:
        return preview(kind, getattr(body, kind), body.links, body.allow_private, config.settings.crawl)
    except PreviewError as exc:
        raise ApiError(422, f"{kind}: {exc}", kind) from None


@router.get("/export")
def export_sources(
    request: Request, session: Session = Depends(get_session), principal: Principal = Depends(current_user)
) -> Response:
    """Every source as OPML 2.0."""
    sources = [e.model for e in _sources(request, session, principal).all()]
    return Response(
        render_opml(sources),
        media_type="text/x-opml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="newswatch-sources.opml"'},
    )


@router.post("/import")
async def import_sources(request: Request, principal: Principal = Depends(require_admin)) -> dict[str, Any]:
    """Add the OPML body's feeds as sources; a name or URL already known is skipped, and any
    invalid outline refuses the whole import (nothing is saved)."""
    body = await request.body()
    context = request.app.state.context

    def work() -> dict[str, Any]:
        with context.session() as session:
            return _import(parse_or_422(body), request, session, principal)

    return await run_in_threadpool(work)  # the database work leaves the event loop


def parse_or_422(body: bytes) -> list[dict[str, Any]]:
    try:
        return parse_opml(body)
    except OpmlError as exc:
        raise ApiError(400, str(exc)) from None


def _import(outlines: list[dict[str, Any]], request: Request, session: Session, principal: Principal):
    sources = _sources(request, session, principal)
    existing = sources.all()
    names = {e.name for e in existing}
    urls = {e.model.url for e in existing}
    wanted, skipped = [], []
    for index, fields in enumerate(outlines):
        url = fields.get("feed") or fields.get("sitemap") or fields.get("listing")
        if fields["name"] in names or url in urls:
            skipped.append({"name": fields["name"], "reason": "a source with this name or URL exists"})
            continue
        try:
            source = check_source(fields)
        except ApiError as exc:
            raise ApiError(422, f"outline {index} ({fields['name']}): {exc.message}", exc.field) from None
        names.add(source.name)
        urls.add(source.url)
        wanted.append(source)
    created = sources.create_many(wanted)
    return {"created": [e.name for e in created], "skipped": skipped}


@router.get("/{name}")
def get_source(
    name: str,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(current_user),
) -> dict[str, Any]:
    return source_json(_sources(request, session, principal).get(name))


@router.patch("/{name}")
def change_source(
    name: str,
    body: SourcePatch,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(require_admin),
) -> dict[str, Any]:
    sources = _sources(request, session, principal)
    entity = sources.writable(name)
    changes = body.model_dump(exclude_unset=True)
    fields = merged_fields(entity, changes)
    if any(k in changes for k in ("feed", "sitemap", "listing")):  # a new kind replaces the old URL
        for kind in ("feed", "sitemap", "listing"):
            if kind not in changes:
                fields.pop(kind, None)
    return source_json(sources.replace(entity, check_source(fields)))


@router.delete("/{name}", status_code=204)
def delete_source(
    name: str,
    request: Request,
    session: Session = Depends(get_session),
    principal: Principal = Depends(require_admin),
) -> Response:
    sources = _sources(request, session, principal)
    entity = sources.writable(name)
    users = [r.name for r in sources.config.rules if name in (r.sources or [])]
    if users:
        raise ApiError(409, f"source {name!r} is used by rule {users[0]!r}: change that first", "name")
    sources.delete(entity)
    # Its crawl state stays with its articles; a new source of this name starts afresh,
    # backfill guard included, instead of inheriting "already crawled".
    session.execute(update(CrawlState).where(CrawlState.name == name).values(first_crawl_at=None))
    session.commit()
    return Response(status_code=204)
