"""The dashboard at ``/``: server-rendered pages (Jinja2) and htmx fragments.

Thin, like the API router: each route parses its input, calls the JobManager
(``request.app.state.manager``), shapes the result with the pure view
models (``views``, ``forms``, ``charts``), and renders a template
(``pages.render``). A request from htmx (``HX-Request``) gets the fragment it
swaps in; the same URL without htmx gets the whole page, so every action also
works as a plain form post.

Pages here: ``/`` and ``/jobs`` (the jobs table), ``/jobs/new`` (submit),
``/bulk`` (bulk retry), ``/analytics``; fragments ``/jobs/table`` (live
refresh) and ``POST /bulk``. One job's page is ``job_page.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from scrapejobs.jobs import Job, JobStatus, timestamp
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.schemas import BulkRetryRequest, JobCreate
from scrapejobs.web import charts, forms, views
from scrapejobs.web.pages import (
    ACTOR,
    GUARDED,
    PAGE_METHODS,
    Manager,
    api_validation_details,
    is_htmx,
    render,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
BULK_LIMIT = 1000
"""Jobs one bulk retry from the dashboard takes (the API's maximum ``limit``)."""


def _store_filter(filters: views.JobFilters) -> JobFilter:
    return JobFilter(
        status=filters.status,
        domain=filters.domain,
        job_type=filters.job_type,
        failure_pattern=filters.failure_pattern,
    )


# -- the jobs table ------------------------------------------------------------


async def _jobs_context(request: Request, manager: JobManager) -> dict[str, Any]:
    filters, errors = views.parse_filters(request.query_params)
    counts = dict.fromkeys(JobStatus, 0)
    if not errors:
        counts = await manager.count_by_status(_store_filter(filters))
    total = counts[filters.status] if filters.status else sum(counts.values())
    pagination = views.paginate(total, filters)
    filters = replace(filters, page=pagination.page)
    jobs: list[Job] = []
    if total:
        offset = (pagination.page - 1) * views.PAGE_SIZE
        jobs = await manager.find_jobs(_store_filter(filters), limit=views.PAGE_SIZE, offset=offset)
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
    return render(request, "jobs.html", await _jobs_context(request, manager))


@router.get("/jobs/table")
async def jobs_table(request: Request, manager: Manager) -> HTMLResponse:
    """The live part of the jobs page (counts, table, pages), polled every 5 s."""
    return render(request, "_jobs_live.html", await _jobs_context(request, manager))


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
    return render(request, "new_job.html", _form_context(dict(forms.NEW_JOB_DEFAULTS), []))


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
        template = "_job_form.html" if is_htmx(request) else "new_job.html"
        return render(request, template, _form_context(values, details), status_code=400)
    job, _ = await manager.create_job(job_request)
    url = f"/jobs/{job.id}"
    if is_htmx(request):
        return Response(headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


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
            failure_pattern=bulk.failurePattern,
        )
        # The same jobs, in the same order, as the bulk retry itself takes.
        jobs, matched = await manager.list_jobs(query, limit=bulk.limit, oldest_first=True)
        context["preview"] = forms.bulk_preview(jobs, matched)
        context["values"] = forms.bulk_values(
            {"domain": bulk.domain or "", "failurePattern": values["failurePattern"]}
        )
    template = "_bulk_step.html" if is_htmx(request) else "bulk.html"
    return render(request, template, context, status_code=400 if details else 200)


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
    template = "_bulk_step.html" if is_htmx(request) else "bulk.html"
    return render(request, template, context, status_code=400 if details else 200)


# -- analytics -------------------------------------------------------------------


@router.api_route("/analytics", methods=PAGE_METHODS)
async def analytics_page(request: Request, manager: Manager) -> HTMLResponse:
    """``GET /api/scrape-jobs/stats`` as charts, for the scope the form picks."""
    filters, errors = charts.parse_analytics_filters(request.query_params)
    view = None
    if not errors:
        stats = await manager.insights.stats(
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
    return render(request, "analytics.html", context, status_code=400 if errors else 200)
