"""The OpenAPI document, made exact: every status a route can answer, each with its envelope.

FastAPI documents a route's success and, for a route with parameters or a
body, a 422 that this API never sends (validation errors are 400
envelopes). :func:`document_envelope_errors` rewrites the document once, from
the facts of each operation and one small table of what the facts cannot
tell (:data:`ROUTE_RESPONSES`):

===========  =============================================================
status       documented on
===========  =============================================================
400          every operation with parameters or a body
401, 403     every operation that needs a role (all of ``/api`` and
             ``/metrics``); 403 also on every state-changing one (another
             site's page)
404          every operation with a path parameter (job, site, key)
405          every operation: a method its path does not have (``Allow``)
408, 413     every operation with a body
415          every ``/api`` operation with a body
409, 503     the routes of :data:`ROUTE_RESPONSES`
500          every operation
===========  =============================================================

Success responses get the envelope, ``{"success": true, "data": ...,
"message"?: ...}``, with the job's schema where the data is a job.
``tests/fuzz/run_schemathesis.py`` checks the document against a live server.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from scrapejobs.jobs import JobStatus, JobType
from scrapejobs.json_schemas import JSON_VALUE_SCHEMA
from scrapejobs.web.envelope import ERROR_SCHEMA

__all__ = ["ROUTE_RESPONSES", "document_envelope_errors"]

ERROR = {"$ref": "#/components/schemas/Error"}
JOB = {"$ref": "#/components/schemas/Job"}
JOB_ROUTE = "/api/scrape-jobs/{job_id}"

ERRORS = {
    "400": "Invalid request: a parameter or the body fails validation, the body is not JSON, "
    "or the job's state does not allow the change",
    "401": "An API key exists and the request has none, or an unknown or revoked one",
    "403": "The key's role may not do this, or a state-changing request from another site's page",
    "404": "No such job, site or key (a job id that is not a UUID included)",
    "405": "The path has no such method; Allow lists the methods it has",
    "408": "The request body stalled for --client-timeout seconds",
    "409": "A conflict with the resource's current state",
    "413": "The request body is over --max-body-bytes",
    "415": "A body that is not application/json",
    "500": "The database failed (nothing was written), or an unexpected fault",
    "503": "The database does not answer",
}
HEADERS = {
    "401": {"WWW-Authenticate": "Bearer"},
    "405": {"Allow": "The methods of this path, comma-separated"},
}

# What the operation's facts cannot tell: its conflicts, and its other answers.
ROUTE_RESPONSES: dict[tuple[str, str], dict[str, str]] = {
    ("post", "/api/scrape-jobs"): {
        "200": "The job an earlier request with this Idempotency-Key created",
        "409": "The Idempotency-Key was used with a different body, or by a deleted job",
    },
    ("patch", JOB_ROUTE): {
        "409": "Lease is no longer held (a stale or wrong leaseToken), "
        "or other requests are changing the job",
    },
    ("delete", JOB_ROUTE): {"409": "Job is currently running, or being changed"},
    ("post", JOB_ROUTE + "/retry"): {"409": "Other requests are changing the job"},
    ("post", JOB_ROUTE + "/heartbeat"): {"409": "Lease is no longer held"},
    ("post", "/api/scrape-jobs/prune"): {"409": "Another process is pruning now"},
    ("post", "/api/keys"): {"409": "A key of that name exists, or did (names are not reused)"},
    ("get", "/healthz"): {"503": ERRORS["503"]},
}

# The data of each success answer, where it is a job (else any JSON value).
ROUTE_DATA: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/scrape-jobs"): JOB,
    ("get", "/api/scrape-jobs"): {"type": "array", "items": JOB},
    ("post", "/api/scrape-jobs/next"): {"anyOf": [JOB, {"type": "null"}]},
    ("get", JOB_ROUTE): JOB,
    ("patch", JOB_ROUTE): JOB,
    ("delete", JOB_ROUTE): {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "string"}},
    },
    ("post", JOB_ROUTE + "/retry"): JOB,
    ("post", JOB_ROUTE + "/heartbeat"): JOB,
}
PAGED = {("get", "/api/scrape-jobs"), ("get", "/api/domains"), ("get", "/api/audit")}

TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}
INTEGER = {"type": "integer"}
JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        *("id", "domain", "job_type", "status", "priority", "retry_count", "max_retries"),
        *("config", "metadata", "error_message", "created_at", "updated_at", "scheduled_at"),
        *("started_at", "completed_at", "worker_id", "lease_expires_at", "site"),
    ],
    "properties": {
        "id": TEXT,
        "domain": TEXT,
        "job_type": {"type": "string", "enum": [kind.value for kind in JobType]},
        "status": {"type": "string", "enum": [status.value for status in JobStatus]},
        **dict.fromkeys(("priority", "retry_count", "max_retries", "pages_crawled"), INTEGER),
        "config": {"type": "object"},
        "metadata": {"type": "object"},
        **dict.fromkeys(("error_message", "worker_id", "leaseToken"), NULLABLE_TEXT),
        **dict.fromkeys(("created_at", "updated_at", "scheduled_at"), NULLABLE_TEXT),
        **dict.fromkeys(("started_at", "completed_at", "lease_expires_at"), NULLABLE_TEXT),
        "site": TEXT,
        "attempts": {"type": "array", "items": {"type": "object"}},
        "site_state": {"type": ["object", "null"]},
    },
}
PAGINATION = {
    "type": "object",
    "required": ["total", "limit", "offset"],
    "properties": dict.fromkeys(("total", "limit", "offset"), INTEGER),
}


def _success_schema(data: dict[str, Any], paged: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["success", "data", *(["pagination"] if paged else [])],
        "properties": {"success": {"const": True}, "data": data, "message": TEXT},
    }
    if paged:
        schema["properties"]["pagination"] = PAGINATION
    return schema


def _error(status: str, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ERROR}},
    }
    if status in HEADERS:
        response["headers"] = {
            name: {"description": text, "required": True, "schema": TEXT}
            for name, text in HEADERS[status].items()
        }
    return response


def _error_statuses(path: str, method: str, operation: dict[str, Any], has_input: bool) -> set[str]:
    """The statuses the operation's facts imply (see the module's table)."""
    statuses = {"405", "500"}
    body = "requestBody" in operation
    if has_input:
        statuses.add("400")
    if "security" in operation:
        statuses |= {"401", "403"}
    if method not in ("get", "head", "options"):
        statuses.add("403")
    if any(param.get("in") == "path" for param in operation.get("parameters", ())):
        statuses.add("404")
    if body:
        statuses |= {"408", "413"}
    if body and path.startswith("/api/"):
        statuses.add("415")
    return statuses


def _document_successes(path: str, method: str, operation: dict[str, Any]) -> None:
    data = ROUTE_DATA.get((method, path), {})
    schema = _success_schema(data, (method, path) in PAGED)
    for status, response in operation["responses"].items():
        json_content = response.get("content", {}).get("application/json")
        if status.startswith("2") and json_content is not None:
            json_content["schema"] = schema
    extra = ROUTE_RESPONSES.get((method, path), {})
    for status, description in extra.items():
        if status.startswith("2"):
            content = {"application/json": {"schema": schema}}
            operation["responses"][status] = {"description": description, "content": content}


def _document_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    has_input = responses.pop("422", None) is not None
    _document_successes(path, method, operation)
    extra = ROUTE_RESPONSES.get((method, path), {})
    statuses = _error_statuses(path, method, operation, has_input)
    statuses |= {status for status in extra if not status.startswith("2")}
    for status in statuses:
        responses[status] = _error(status, extra.get(status, ERRORS[status]))
    operation["responses"] = dict(sorted(responses.items()))


def _special_cases(paths: dict[str, Any]) -> None:
    """The two successes that are not the JSON envelope alone."""
    results = paths.get(JOB_ROUTE + "/results", {}).get("get")
    if results is not None:
        content = results["responses"]["200"]["content"]
        content["application/x-ndjson"] = {"schema": {"type": "string"}}
    metrics = paths.get("/metrics", {}).get("get")
    if metrics is not None:
        text = {"text/plain": {"schema": {"type": "string"}}}
        metrics["responses"]["200"]["content"] = text


def document_envelope_errors(app: FastAPI) -> None:
    """Make /docs tell the truth: each route's statuses, each in the seed's envelope."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            for path, operations in schema["paths"].items():
                for method, operation in operations.items():
                    _document_operation(path, method, operation)
            _special_cases(schema["paths"])
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            components["Error"] = ERROR_SCHEMA
            components["Job"] = JOB_SCHEMA
            components["JsonValue"] = JSON_VALUE_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
