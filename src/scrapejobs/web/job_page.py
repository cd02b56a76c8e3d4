"""The dashboard's page for one job (``/jobs/{id}``) and its actions.

Fragments: ``/jobs/{id}/live`` (polled while the job is pending or running)
and the actions ``POST /jobs/{id}/retry|cancel|delete``. Thin, like the API
router: parse, call the JobManager, shape with ``job_view``, render.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from scrapejobs.audit import AuditAction
from scrapejobs.errors import (
    JobConflict,
    JobNotFound,
    RetryNotAllowed,
    ScrapeJobsError,
    StorageUnavailable,
)
from scrapejobs.manager import JobManager, retry_message
from scrapejobs.web import job_view
from scrapejobs.web.auth import Admin, Operator
from scrapejobs.web.envelope import failure
from scrapejobs.web.pages import (
    PAGE_METHODS,
    PAGES,
    Manager,
    is_htmx,
    render,
    status_of,
)
from scrapejobs.web.recorder import Audit

__all__ = ["router"]

router = APIRouter(include_in_schema=False, dependencies=PAGES)
PAGES_SHOWN = 100
"""Crawled pages listed on a job's page; the export has them all."""


async def _job_context(manager: JobManager, job_id: str, **extra: Any) -> dict[str, Any]:
    job = await manager.get_job(job_id)
    history = job_view.timeline(await manager.get_events(job.id))
    pages = await manager.results.first_pages(job, PAGES_SHOWN)
    site = await manager.sites.state(job.site)
    now = manager.clock()
    return {
        "nav": "jobs",
        "job": job,
        "history": history,
        "summary": job_view.job_summary(job, now, site),
        "config": job_view.config_rows(job.config, history),
        "metadata": job_view.metadata_rows(job.metadata),
        "pages": job_view.page_rows(pages),
        "pages_crawled": await manager.results.pages_crawled(job),
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
    if is_htmx(request):
        headers = {"HX-Retarget": "#job-page", "HX-Reswap": "innerHTML"}
        return render(request, "_not_found.html", context, status_code=404, headers=headers)
    return render(request, "not_found.html", context, status_code=404)


@router.api_route("/jobs/{job_id}", methods=PAGE_METHODS)
async def job_page(request: Request, manager: Manager, job_id: str) -> HTMLResponse:
    try:
        context = await _job_context(manager, job_id)
    except JobNotFound:
        return _gone(request, job_id)
    return render(request, "job.html", context)


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
    return render(request, "_job_live.html", await _job_context(manager, job_id))


async def _job_update(
    request: Request, manager: Manager, job_id: str, *, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    """After an action: its message, and the job's page parts swapped out of band."""
    try:
        context = await _job_context(manager, job_id, oob=is_htmx(request), **extra)
    except JobNotFound:
        return _gone(request, job_id)
    template = "_job_update.html" if is_htmx(request) else "job.html"
    return render(request, template, context, status_code=status_code)


@router.post("/jobs/{job_id}/retry")
async def retry_job(
    request: Request, manager: Manager, caller: Operator, audit: Audit, job_id: str
) -> Response:
    """The seed's retry, answered in the retry control's live region."""
    try:
        before = await manager.get_job(job_id)
        job = await manager.retry_job(job_id, actor=caller.name)
    except JobNotFound:
        return _gone(request, job_id)
    except JobConflict as exc:  # RetryNotAllowed: the seed's two refusals
        error = job_view.refusal_text(exc.message, exc.details)
        code = 400 if isinstance(exc, RetryNotAllowed) else status_of(exc)
        return await _job_update(
            request, manager, job_id, status_code=code, target="retry", retry_error=error
        )
    except StorageUnavailable:
        return failure(500, "Failed to retry scrape job", "Unable to update job status in database")
    await audit.job(AuditAction.JOB_RETRY, before, job)
    return await _job_update(
        request, manager, job.id, target="retry", retry_message=retry_message(job)
    )


async def _action_refused(
    request: Request, manager: JobManager, job_id: str, exc: ScrapeJobsError
) -> Response:
    """A cancel or delete that the job's state does not allow, said in the actions' region."""
    error = job_view.refusal_text(exc.message, exc.details)
    return await _job_update(
        request, manager, job_id, status_code=status_of(exc), target="action", action_error=error
    )


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(
    request: Request, manager: Manager, caller: Operator, audit: Audit, job_id: str
) -> Response:
    try:
        before = await manager.get_job(job_id)
        after = await manager.cancel_job(job_id, actor=caller.name)
    except JobNotFound:
        return _gone(request, job_id)
    except ScrapeJobsError as exc:
        return await _action_refused(request, manager, job_id, exc)
    await audit.job(AuditAction.JOB_CANCEL, before, after)
    return await _job_update(
        request, manager, job_id, target="action", action_message="Job cancelled"
    )


@router.post("/jobs/{job_id}/delete")
async def delete_job(
    request: Request, manager: Manager, _caller: Admin, audit: Audit, job_id: str
) -> Response:
    try:
        job = await manager.delete_job(job_id)
    except JobNotFound:
        return _gone(request, job_id)
    except ScrapeJobsError as exc:
        return await _action_refused(request, manager, job_id, exc)
    await audit.job(AuditAction.JOB_DELETE, job, None)
    context = {"job": job, "nav": "jobs"}
    if is_htmx(request):
        headers = {"HX-Retarget": "#job-page", "HX-Reswap": "innerHTML"}
        return render(request, "_deleted.html", context, headers=headers)
    return render(request, "deleted.html", context)
