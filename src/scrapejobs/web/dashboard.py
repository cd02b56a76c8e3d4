"""The dashboard at ``/``: server-rendered pages (Jinja2) and htmx fragments.

Thin, like the API router: each route parses its input, calls the JobManager
(``request.app.state.manager``), shapes the result with the pure view
models (``views``, ``job_view``, ``forms``, ``charts``), and renders a
template. A request from htmx (``HX-Request``) gets the fragment it swaps
in; the same URL without htmx gets the whole page, so every action also
works as a plain form post.

Pages: ``/`` and ``/jobs`` (the jobs table), ``/jobs/new`` (submit),
``/jobs/{id}`` (one job), ``/bulk`` (bulk retry), ``/analytics``.
Fragments: ``/jobs/table`` (live refresh), ``/jobs/{id}/live``, and the
actions ``POST /jobs/{id}/retry|cancel|delete`` and ``POST /bulk``.

Templates autoescape everything: domains, errors, metadata and the titles of
crawled pages are other people's text. Every page is sent with a strict
Content-Security-Policy (scripts and styles from ``/static`` only, no
inline code, no eval), and state-changing posts from another site are refused.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from scrapejobs.errors import (
    JobConflict,
    JobNotFound,
    RetryNotAllowed,
    ScrapeJobsError,
    StorageUnavailable,
)
from scrapejobs.failures import FailurePattern
from scrapejobs.jobs import Job, JobStatus, JobType, timestamp
from scrapejobs.manager import JobManager, retry_message
from scrapejobs.schemas import BulkRetryRequest, JobCreate
from scrapejobs.storage.store import JobFilter
from scrapejobs.web import charts, forms, job_view, views
from scrapejobs.web.envelope import STATUS_OF_ERROR, failure, validation_details

__all__ = ["HTMX_VERSION", "STATIC_DIR", "router", "static_files"]

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
HTMX_VERSION = "2.0.11"
ACTOR = "dashboard"
"""``retriedBy`` (and the event actor) of what a person does in the dashboard."""
PAGES_SHOWN = 100
"""Crawled pages listed on a job's page; the export has them all."""
BULK_LIMIT = 1000
"""Jobs one bulk retry from the dashboard takes (the API's maximum ``limit``)."""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Vary": "HX-Request",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)
PAGE_METHODS = ["GET", "HEAD"]  # pages answer HEAD too, for uptime checks


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=views.when, shorten=views.shorten, safe_href=views.safe_href)
    env.globals.update(
        statuses=[status.value for status in JobStatus],
        job_types=[job_type.value for job_type in JobType],
        failure_patterns=[pattern.value for pattern in FailurePattern],
        htmx_version=HTMX_VERSION,
    )
    return env


templates = Jinja2Templates(env=_environment())


def static_files() -> StaticFiles:
    """``/static``: htmx, the stylesheet and the small error-reporting script."""
    return StaticFiles(directory=STATIC_DIR)


def get_manager(request: Request) -> JobManager:
    manager: JobManager = request.app.state.manager
    return manager


Manager = Annotated[JobManager, Depends(get_manager)]


def same_origin(request: Request) -> None:
    """Refuse a state-changing request another site's page made the browser send."""
    origin, host = request.headers.get("origin"), request.headers.get("host")
    if views.is_cross_site(origin, host, request.headers.get("sec-fetch-site")):
        raise HTTPException(403, "Cross-site request refused")


GUARDED = [Depends(same_origin)]


def _is_htmx(request: Request) -> bool:
    headers = request.headers
    return headers.get("hx-request") == "true" and "hx-history-restore-request" not in headers


def _render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response: HTMLResponse = templates.TemplateResponse(
        request,
        name,
        {"nav": "", **context},
        status_code=status_code,
        headers={**PAGE_HEADERS, **(headers or {})},
    )
    return response


def api_validation_details(exc: ValidationError) -> list[dict[str, str]]:
    """A body's validation errors exactly as the API reports them (``envelope.py``)."""
    errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
    _, details = validation_details(RequestValidationError(errors))
    return details


def _status_of(exc: ScrapeJobsError) -> int:
    return next(code for kind, code in STATUS_OF_ERROR if isinstance(exc, kind))


def _store_filter(filters: views.JobFilters) -> JobFilter:
    pattern = filters.failure_pattern
    return JobFilter(
        status=filters.status,
        domain=filters.domain,
        job_type=filters.job_type,
        failure_pattern=pattern.value if pattern else None,
    )


# -- the jobs table ------------------------------------------------------------


async def _count(manager: JobManager, filters: views.JobFilters) -> int:
    _, total = await manager.list_jobs(_store_filter(filters), limit=1)
    return total


async def _jobs_context(request: Request, manager: JobManager) -> dict[str, Any]:
    filters, errors = views.parse_filters(request.query_params)
    counts = dict.fromkeys(JobStatus, 0)
    if not errors:
        for status in JobStatus:
            counts[status] = await _count(manager, replace(filters, status=status))
    total = counts[filters.status] if filters.status else sum(counts.values())
    pagination = views.paginate(total, filters)
    filters = replace(filters, page=pagination.page)
    jobs: list[Job] = []
    if total:
        offset = (pagination.page - 1) * views.PAGE_SIZE
        jobs, _ = await manager.list_jobs(
            _store_filter(filters), limit=views.PAGE_SIZE, offset=offset
        )
    now = manager.clock()
    failed_here = filters.status in (None, JobStatus.FAILED) and counts[JobStatus.FAILED]
    return {
        "nav": "jobs",
        "filters": filters,
        "bulk_query": filters.bulk_query if failed_here else None,
        "raw": dict(request.query_params),
        "errors": {name: [message] for name, message in errors.items()},
        "rows": [views.job_row(job, now) for job in jobs],
        "counts": views.status_counts(counts, filters),
        "pagination": pagination,
        "refreshed": views.when(now),
        "refreshed_iso": timestamp(now),
    }


@router.api_route("/", methods=PAGE_METHODS)
@router.api_route("/jobs", methods=PAGE_METHODS)
async def jobs_page(request: Request, manager: Manager) -> HTMLResponse:
    return _render(request, "jobs.html", await _jobs_context(request, manager))


@router.get("/jobs/table")
async def jobs_table(request: Request, manager: Manager) -> HTMLResponse:
    """The live part of the jobs page (counts, table, pages), polled every 5 s."""
    return _render(request, "_jobs_live.html", await _jobs_context(request, manager))


# -- submitting a job ----------------------------------------------------------


def _form_context(values: dict[str, str], details: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "nav": "new",
        "values": values,
        "details": details,
        "field_errors": forms.errors_by_field(details),
    }


@router.api_route("/jobs/new", methods=PAGE_METHODS)
async def new_job_page(request: Request) -> HTMLResponse:
    return _render(request, "new_job.html", _form_context(dict(forms.NEW_JOB_DEFAULTS), []))


@router.post("/jobs/new", dependencies=GUARDED)
async def submit_job(request: Request, manager: Manager) -> Response:
    """Validated by ``JobCreate``, as ``POST /api/scrape-jobs`` is; then to the new job."""
    form = await request.form()
    values = {name: value for name, value in form.items() if isinstance(value, str)}
    body, details = forms.job_request_body(values)
    try:
        job_request = JobCreate.model_validate(body)
    except ValidationError as exc:
        details += api_validation_details(exc)
    if details:
        template = "_job_form.html" if _is_htmx(request) else "new_job.html"
        return _render(request, template, _form_context(values, details), status_code=400)
    job, _ = await manager.create_job(job_request)
    url = f"/jobs/{job.id}"
    if _is_htmx(request):
        return Response(headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


# -- one job -------------------------------------------------------------------


async def _job_context(manager: JobManager, job_id: str, **extra: Any) -> dict[str, Any]:
    job = await manager.get_job(job_id)
    history = job_view.timeline(await manager.get_events(job.id))
    pages = await manager.store.pages_after(job.id, job.attempts, 0, limit=PAGES_SHOWN)
    now = manager.clock()
    return {
        "nav": "jobs",
        "job": job,
        "history": history,
        "summary": job_view.job_summary(job, now),
        "config": job_view.config_rows(job.config, history),
        "metadata": job_view.metadata_rows(job.metadata),
        "pages": job_view.page_rows(pages),
        "pages_crawled": await manager.pages_crawled(job),
        "retry": job_view.retry_control(job),
        "can_cancel": job_view.can_cancel(job),
        "can_delete": job_view.can_delete(job),
        "oob": False,
        "target": "",
        "retry_message": "",
        "retry_error": "",
        "action_message": "",
        "action_error": "",
        **extra,
    }


def _gone(request: Request, job_id: str) -> HTMLResponse:
    """The job does not exist (any more): a 404 page, or the whole job page replaced."""
    context = {"job_id": job_id, "nav": "jobs"}
    if _is_htmx(request):
        headers = {"HX-Retarget": "#job-page", "HX-Reswap": "innerHTML"}
        return _render(request, "_not_found.html", context, status_code=404, headers=headers)
    return _render(request, "not_found.html", context, status_code=404)


@router.api_route("/jobs/{job_id}", methods=PAGE_METHODS)
async def job_page(request: Request, manager: Manager, job_id: str) -> HTMLResponse:
    try:
        context = await _job_context(manager, job_id)
    except JobNotFound:
        return _gone(request, job_id)
    return _render(request, "job.html", context)


@router.get("/jobs/{job_id}/live")
async def job_live(
    request: Request, manager: Manager, job_id: str, seen: str = "", version: int = 0
) -> Response:
    """The polled part of a pending or running job's page.

    204 (nothing to swap) while the job is unchanged; a full reload when its
    status changed, since the controls depend on it.
    """
    try:
        job = await manager.get_job(job_id)
    except JobNotFound:
        return Response(headers={"HX-Refresh": "true"})
    if job.status.value != seen:
        return Response(headers={"HX-Refresh": "true"})
    if job.version == version:
        return Response(status_code=204)
    return _render(request, "_job_live.html", await _job_context(manager, job_id))


async def _job_update(
    request: Request, manager: Manager, job_id: str, *, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    """After an action: its message, and the job's page parts swapped out of band."""
    try:
        context = await _job_context(manager, job_id, oob=_is_htmx(request), **extra)
    except JobNotFound:
        return _gone(request, job_id)
    template = "_job_update.html" if _is_htmx(request) else "job.html"
    return _render(request, template, context, status_code=status_code)


@router.post("/jobs/{job_id}/retry", dependencies=GUARDED)
async def retry_job(request: Request, manager: Manager, job_id: str) -> Response:
    """The seed's retry, answered in the retry control's live region."""
    try:
        job = await manager.retry_job(job_id, actor=ACTOR)
    except JobNotFound:
        return _gone(request, job_id)
    except JobConflict as exc:  # RetryNotAllowed: the seed's two refusals
        error = job_view.refusal_text(exc.message, exc.details)
        code = 400 if isinstance(exc, RetryNotAllowed) else _status_of(exc)
        return await _job_update(
            request, manager, job_id, status_code=code, target="retry", retry_error=error
        )
    except StorageUnavailable:
        return failure(500, "Failed to retry scrape job", "Unable to update job status in database")
    return await _job_update(
        request, manager, job.id, target="retry", retry_message=retry_message(job)
    )


async def _action_refused(
    request: Request, manager: JobManager, job_id: str, exc: ScrapeJobsError
) -> Response:
    """A cancel or delete that the job's state does not allow, said in the actions' region."""
    error = job_view.refusal_text(exc.message, exc.details)
    return await _job_update(
        request, manager, job_id, status_code=_status_of(exc), target="action", action_error=error
    )


@router.post("/jobs/{job_id}/cancel", dependencies=GUARDED)
async def cancel_job(request: Request, manager: Manager, job_id: str) -> Response:
    try:
        await manager.cancel_job(job_id, actor=ACTOR)
    except JobNotFound:
        return _gone(request, job_id)
    except ScrapeJobsError as exc:
        return await _action_refused(request, manager, job_id, exc)
    return await _job_update(
        request, manager, job_id, target="action", action_message="Job cancelled"
    )


@router.post("/jobs/{job_id}/delete", dependencies=GUARDED)
async def delete_job(request: Request, manager: Manager, job_id: str) -> Response:
    try:
        job = await manager.delete_job(job_id)
    except JobNotFound:
        return _gone(request, job_id)
    except ScrapeJobsError as exc:
        return await _action_refused(request, manager, job_id, exc)
    context = {"job": job, "nav": "jobs"}
    if _is_htmx(request):
        headers = {"HX-Retarget": "#job-page", "HX-Reswap": "innerHTML"}
        return _render(request, "_deleted.html", context, headers=headers)
    return _render(request, "deleted.html", context)


# -- bulk retry ----------------------------------------------------------------


def _bulk_request(
    values: dict[str, str],
) -> tuple[BulkRetryRequest | None, list[dict[str, str]]]:
    body: dict[str, Any] = forms.bulk_request_body(values)
    body["limit"] = BULK_LIMIT
    try:
        return BulkRetryRequest.model_validate(body), []
    except ValidationError as exc:
        return None, api_validation_details(exc)


def _bulk_context(values: dict[str, str], details: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "nav": "bulk",
        "values": values,
        "details": details,
        "field_errors": forms.errors_by_field(details),
        "preview": None,
        "results": None,
        "limit": BULK_LIMIT,
    }


@router.api_route("/bulk", methods=PAGE_METHODS)
async def bulk_page(request: Request, manager: Manager) -> HTMLResponse:
    """The bulk-retry form; with a filter, how many failed jobs a retry would touch."""
    values = forms.bulk_values(request.query_params)
    asked = any(name in request.query_params for name in forms.BULK_FIELDS)
    bulk, details = _bulk_request(values) if asked else (None, [])
    context = _bulk_context(values, details)
    if bulk is not None:
        query = JobFilter(
            status=JobStatus.FAILED,
            domain=bulk.domain,
            failure_pattern=bulk.failurePattern.value if bulk.failurePattern else None,
        )
        jobs, matched = await manager.list_jobs(query, limit=bulk.limit)
        context["preview"] = forms.bulk_preview(jobs, matched)
        context["values"] = forms.bulk_values(
            {"domain": bulk.domain or "", "failurePattern": values["failurePattern"]}
        )
    template = "_bulk_step.html" if _is_htmx(request) else "bulk.html"
    return _render(request, template, context, status_code=400 if details else 200)


@router.post("/bulk", dependencies=GUARDED)
async def bulk_retry(request: Request, manager: Manager) -> HTMLResponse:
    """Retry the failed jobs the confirmed filter matches; one result per job."""
    form = await request.form()
    values = forms.bulk_values({k: v for k, v in form.items() if isinstance(v, str)})
    bulk, details = _bulk_request(values)
    context = _bulk_context(values, details)
    if bulk is not None:
        results = await manager.bulk_retry(bulk, actor=ACTOR)
        context["results"] = forms.bulk_results(results)
    template = "_bulk_step.html" if _is_htmx(request) else "bulk.html"
    return _render(request, template, context, status_code=400 if details else 200)


# -- analytics -------------------------------------------------------------------


@router.api_route("/analytics", methods=PAGE_METHODS)
async def analytics_page(request: Request, manager: Manager) -> HTMLResponse:
    """``GET /api/scrape-jobs/stats`` as charts, for the scope the form picks."""
    filters, errors = charts.parse_analytics_filters(request.query_params)
    view = None
    if not errors:
        stats = await manager.stats(
            domain=filters.domain, since=filters.since, job_type=filters.job_type
        )
        view = charts.analytics_view(stats)
    context = {
        "nav": "analytics",
        "filters": filters,
        "raw": dict(request.query_params),
        "errors": {name: [message] for name, message in errors.items()},
        "view": view,
    }
    return _render(request, "analytics.html", context, status_code=400 if errors else 200)
