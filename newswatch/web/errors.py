"""Every error the API gives is JSON `{"error": "one clear sentence", "field": …, "column": …}`.

Handlers here turn request-validation errors (422, naming the field), HTTP errors (a JSON
404 for an unknown path, too) and anything unexpected (500 without a traceback, SQL or driver
text — it is logged instead) into that shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("newswatch.web")


class ApiError(Exception):
    """An error for the client: status, one sentence, and the field (and column) it is about."""

    def __init__(self, status: int, message: str, field: str | None = None, column: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.column = column


def error_body(message: str, field: str | None = None, column: int | None = None) -> dict[str, Any]:
    return {"error": message, "field": field, "column": column}


def not_found(kind: str, name: object) -> ApiError:
    return ApiError(404, f"no {kind} named {name!r}" if isinstance(name, str) else f"no {kind} {name}")


def validation_field(loc: tuple[Any, ...]) -> str | None:
    """Return 'notify' for ('body', 'notify', 0): the field as a client named it."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    parts = [p for p in parts if not p.startswith("function-")]
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def _validation_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "required but missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch":
        return "must use only a-z, 0-9 and '-' (and start with a letter or digit)"
    if kind == "json_invalid":
        return "the body is not valid JSON"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error a JSON body of the one shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.field, exc.column), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = validation_field(tuple(first.get("loc", ())))
        message = _validation_message(first)
        sentence = f"{field}: {message}" if field else message
        return JSONResponse(error_body(sentence, field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such page or endpoint"
        if exc.status_code == 405:
            message = "this method is not allowed here"
        return JSONResponse(error_body(message), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "API request failed: %s", type(exc).__name__, exc_info=exc, extra={"path": request.url.path}
        )
        return JSONResponse(error_body("internal error; the server log has the details"), status_code=500)
