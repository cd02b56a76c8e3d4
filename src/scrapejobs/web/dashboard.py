"""The dashboard at ``/``: server-rendered pages (Jinja2) and htmx fragments.

Thin, like the API router: each route parses its input, calls the JobManager
(``request.app.state.manager``), shapes the result with the pure view
models (``views``, ``forms``, ``charts``), and renders a template
(``pages.render``). A request from htmx (``HX-Request``) gets the fragment it
swaps in; the same URL without htmx gets the whole page, so every action also
works as a plain form post.

Pages here: ``/`` and ``/jobs`` (the jobs table), ``/jobs/retry-failed``
(retry the failed jobs of the table's filter: confirm, then the results),
``/jobs/new`` (submit), ``/bulk`` (bulk retry), ``/analytics``; fragments
``/jobs/table`` (live refresh) and ``POST /bulk``. One job's page is
``job_page.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from scrapejobs.audit import AuditAction
from scrapejobs.jobs import Job, JobStatus, timestamp
from scrapejobs.manager import BulkRetryResult, JobManager
from scrapejobs.queries import NEWEST_FIRST, OLDEST_FIRST, JobFilter
from scrapejobs.schemas import BulkRetryRequest, JobCreate
from scrapejobs.web import charts, forms, jobs_sort, views
from scrapejobs.web import jobs_table as table
from scrapejobs.web.activity_page import activity_section
from scrapejobs.web.auth import Operator
from scrapejobs.web.pages import (
    PAGE_METHODS,
    PAGES,
    Manager,
    api_validation_details,
    is_htmx,
    render,
)
from scrapejobs.web.recorder import Audit

__all__ = ["router"]

router = APIRouter(include_in_schema=False, dependencies=PAGES)
BULK_LIMIT = 1000
"""Jobs one bulk retry from the dashboard takes (the API's maximum ``limit``)."""


def _store_filter(filters: table.JobFilters) -> JobFilter:
    return JobFilter(
        status=filters.status,
        domain=filters.domain,
        job_type=filters.job_type,
        failure_pattern=filters.failure_pattern,
        search=filters.search,
    )


# -- the jobs table ------------------------------------------------------------


async def _retry_offer(
    manager: JobManager, filters: table.JobFilters, failed: int
) -> table.RetryOffer | None:
    if not failed or filters.status not in (None, JobStatus.FAILED):
        return None
    query = replace(_store_filter(filters), status=JobStatus.FAILED, retries_left=True)
    return table.retry_offer(failed, await manager.count_jobs(query), filters)


async def _jobs_context(request: Request, manager: JobManager) -> dict[str, Any]:
    filters, errors = table.parse_filters(request.query_params)
    sort_error = errors.pop("sort", None)  # shown, but the table falls back to newest first
    counts = dict.fromkeys(JobStatus, 0)
    if not errors:
        counts = await manager.count_by_status(_store_filter(filters))
    total = counts[filters.status] if filters.status else sum(counts.values())
    pagination = table.paginate(total, filters)
    filters = replace(filters, page=pagination.page)
    jobs: list[Job] = []
    if total:
        size = table.PAGE_SIZE
        jobs = await manager.find_jobs(
            _store_filter(filters),
            limit=size,
            offset=(pagination.page - 1) * size,
            order=filters.sort,
        )
    now = manager.clock()
    return {
        "nav": "jobs",
        "filters": filters,
        "retry_offer": await _retry_offer(manager, filters, counts[JobStatus.FAILED]),
        "raw": dict(request.query_params),
        "errors": {name: [message] for name, message in errors.items()},
        "sort_error": sort_error,
        "sort_description": jobs_sort.sort_description(filters.sort),
        "headers": jobs_sort.sort_headers(filters),
        "rows": [table.job_row(job, now) for job in jobs],
        "counts": table.status_counts(counts, filters),
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


@router.post("/jobs/new")
async def submit_job(
    request: Request, manager: Manager, caller: Operator, audit: Audit
) -> Response:
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
    job, _ = await manager.create_job(job_request, actor=caller.name)
    await audit.job(AuditAction.JOB_CREATE, None, job)
    url = f"/jobs/{job.id}"
    if is_htmx(request):
        return Response(headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


# -- bulk retry ----------------------------------------------------------------


def _bulk_request(
    values: dict[str, str],
) -> tuple[BulkRetryRequest | None, list[dict[str, str]]]:
    body: dict[str, Any] = forms.bulk_request_body(values)
    if not body:  # the API's message names its JSON fields; a person gets the form's words
        return None, [dict(forms.NO_BULK_FILTER)]
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
        jobs, matched = await manager.list_jobs(query, limit=bulk.limit, order=OLDEST_FIRST)
        context["preview"] = forms.bulk_preview(jobs, matched)
        context["values"] = forms.bulk_values(
            {"domain": bulk.domain or "", "failurePattern": values["failurePattern"]}
        )
    template = "_bulk_step.html" if is_htmx(request) else "bulk.html"
    return render(request, template, context, status_code=400 if details else 200)


@router.post("/bulk")
async def bulk_retry(
    request: Request, manager: Manager, caller: Operator, audit: Audit
) -> HTMLResponse:
    """Retry the failed jobs the confirmed filter matches; one result per job."""
    form = await request.form()
    values = forms.bulk_values({k: v for k, v in form.items() if isinstance(v, str)})
    bulk, details = _bulk_request(values)
    context = _bulk_context(values, details)
    if bulk is not None:
        results = await manager.bulk_retry(bulk, actor=caller.name)
        context["results"] = forms.bulk_results(results)
        await _audit_bulk(audit, bulk.model_dump(mode="json", exclude_none=True), results)
    template = "_bulk_step.html" if is_htmx(request) else "bulk.html"
    return render(request, template, context, status_code=400 if details else 200)


# -- retrying the failed jobs of the jobs table's filter --------------------------


def _retry_failed_context(
    params: Mapping[str, str],
) -> tuple[table.JobFilters, dict[str, Any]]:
    filters, errors = table.parse_filters(params)
    filters = replace(filters, status=None, page=1, sort=NEWEST_FIRST)
    errors.pop("sort", None)
    return filters, {
        "nav": "jobs",
        "filters": filters,
        "scope_terms": table.scope_terms(filters),
        "errors": errors,
        "back": filters.query(),
        "fields": filters.params(),
        "preview": None,
        "results": None,
        "limit": BULK_LIMIT,
    }


@router.api_route("/jobs/retry-failed", methods=PAGE_METHODS)
async def retry_failed_page(request: Request, manager: Manager) -> HTMLResponse:
    """Confirm first: how many failed jobs of the filter will be retried, how many skipped."""
    filters, context = _retry_failed_context(request.query_params)
    if not context["errors"]:
        query = replace(_store_filter(filters), status=JobStatus.FAILED)
        # The same jobs, in the same order, as the retry itself takes.
        jobs, matched = await manager.list_jobs(query, limit=BULK_LIMIT, order=OLDEST_FIRST)
        context["preview"] = forms.bulk_preview(jobs, matched)
    status_code = 400 if context["errors"] else 200
    return render(request, "retry_failed.html", context, status_code=status_code)


@router.post("/jobs/retry-failed")
async def retry_failed(
    request: Request, manager: Manager, caller: Operator, audit: Audit
) -> HTMLResponse:
    """Retry the failed jobs of the filter, as a bulk retry does; one result per job."""
    form = await request.form()
    params = {name: value for name, value in form.items() if isinstance(value, str)}
    filters, context = _retry_failed_context(params)
    if not context["errors"]:
        query = _store_filter(filters)
        results = await manager.retry_failed(query, limit=BULK_LIMIT, actor=caller.name)
        context["results"] = forms.bulk_results(results)
        await _audit_bulk(audit, {"filter": filters.query()}, results)
    template = "_retry_failed_step.html" if is_htmx(request) else "retry_failed.html"
    return render(request, template, context, status_code=400 if context["errors"] else 200)


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
        "activity": await activity_section(request, manager),  # activity_page.py
    }
    return render(request, "analytics.html", context, status_code=400 if errors else 200)


async def _audit_bulk(
    audit: Audit, request: dict[str, Any], results: list[BulkRetryResult]
) -> None:
    retried = [result.jobId for result in results if result.success]
    await audit(AuditAction.JOBS_BULK_RETRY, after={"request": request, "retried": retried})
