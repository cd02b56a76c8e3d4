"""The seed's response envelope, for every response including errors.

``{"success": true, "data": ..., "message"?: ...}`` or ``{"success": false,
"error": "...", "details"?: ...}``. Validation errors are 400 (never
FastAPI's 422), unknown routes 404, wrong methods 405, faults 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.convertors import CONVERTOR_TYPES
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

from scrapejobs.errors import (
    Forbidden,
    InvalidField,
    InvalidRequest,
    JobConflict,
    JobNotFound,
    KeyNotFound,
    RetryNotAllowed,
    ScrapeJobsError,
    SiteNotFound,
    StorageUnavailable,
    Unauthenticated,
)

__all__ = [
    "ERROR_SCHEMA",
    "STATUS_OF_ERROR",
    "database_failure",
    "failure",
    "install_error_handlers",
    "on_domain_error",
    "success",
    "validation_details",
]

log = logging.getLogger(__name__)

STATUS_OF_ERROR: tuple[tuple[type[ScrapeJobsError], int], ...] = (
    (JobNotFound, 404),
    (SiteNotFound, 404),
    (KeyNotFound, 404),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (InvalidRequest, 400),
    (RetryNotAllowed, 400),  # the seed's status for both retry refusals
    (JobConflict, 409),
    (StorageUnavailable, 500),
    (ScrapeJobsError, 500),
)

# FastAPI raises a bare 400 for bodies it cannot parse at all (bad UTF-8,
# nesting too deep for the parser); they are invalid JSON to the client.
HTTP_ERRORS = {400: "Invalid JSON body", 404: "Not found", 405: "Method not allowed"}
_PARAMETER = re.compile(r"\{(\w+)\}")
BODY_UNPARSEABLE = [{"field": "body", "message": "Body could not be parsed as JSON"}]


def success(
    data: Any, message: str | None = None, *, status_code: int = 200, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if message is not None:
        body["message"] = message
    body.update(extra)
    return JSONResponse(jsonable_encoder(body), status_code=status_code)


def failure(
    status_code: int, error: str, details: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"success": False, "error": error}
    if details is not None:
        body["details"] = details
    return JSONResponse(jsonable_encoder(body), status_code=status_code, headers=headers)


def _field(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


def _message(error: Any) -> str:
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def validation_details(exc: RequestValidationError) -> tuple[str, list[dict[str, str]]]:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return "Invalid JSON body", [{"field": "body", "message": "Body is not valid JSON"}]
    details = [
        {"field": _field(error.get("loc", ())), "message": _message(error)} for error in errors
    ]
    return "Invalid request", details


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    error, details = validation_details(exc)
    return failure(400, error, details)


def _allowed_methods(request: Request) -> str:
    """Every method of every route on this path (Starlette names only the first route's).

    Read from the OpenAPI document, which FastAPI builds once and caches. A
    path parameter named as a registered convertor is matched with it, as the
    router matches it: ``{job_id}`` never takes ``next``, so
    ``/api/scrape-jobs/next`` lists only ``POST``.
    """
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if _route_pattern(template).match(request.url.path):
            methods.update(method.upper() for method in operations)
    if "GET" in methods:
        methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
    return ", ".join(sorted(methods))


def _route_pattern(template: str) -> re.Pattern[str]:
    typed = _PARAMETER.sub(
        lambda name: f"{{{name[1]}:{name[1]}}}" if name[1] in CONVERTOR_TYPES else name[0],
        template,
    )
    return compile_path(typed)[0]


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    error = HTTP_ERRORS.get(exc.status_code, str(exc.detail))
    details = BODY_UNPARSEABLE if exc.status_code == 400 else None
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return failure(exc.status_code, error, details, headers=headers)


async def on_domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ScrapeJobsError)
    if isinstance(exc, InvalidField):  # reported like the validation error it is
        return failure(
            400, "Invalid request", [{"field": f"body.{exc.field}", "message": exc.problem}]
        )
    status = next(code for kind, code in STATUS_OF_ERROR if isinstance(exc, kind))
    if status >= 500:
        return database_failure(500, exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return failure(status, exc.message, exc.details, headers)


DATABASE_DOWN = "The database did not answer; nothing was written. The server's log says why."


def database_failure(status: int, exc: ScrapeJobsError) -> JSONResponse:
    """The database's fault: its cause (the driver's words, addresses) goes to the log only."""
    log.error("storage failure: %s (%s)", exc.message, exc.details)
    return failure(status, exc.message, DATABASE_DOWN)


async def _on_unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return failure(500, "Internal server error")


ERROR_SCHEMA = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "const": False},
        "error": {"type": "string"},
        "details": {},
    },
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(ScrapeJobsError, on_domain_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
