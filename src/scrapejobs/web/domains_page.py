"""The dashboard's ``/domains`` page: every site the jobs crawl, its state (why,
until when), its fleet-wide limits, its jobs, and pause / unpause / resume.

Thin: parse, call ``manager.sites``, shape rows (:func:`site_row`), render.
The buttons are plain form posts (guarded against cross-site posts) that
come back to the page, so they work without JavaScript too.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from scrapejobs.audit import AuditAction
from scrapejobs.errors import ScrapeJobsError
from scrapejobs.jobs import JobStatus, timestamp
from scrapejobs.limits import concurrency_limit, rate_limit
from scrapejobs.site_manager import SiteView
from scrapejobs.sites import SiteStatus
from scrapejobs.web.auth import Admin
from scrapejobs.web.pages import PAGE_METHODS, PAGES, Manager, render
from scrapejobs.web.recorder import Audit, Recorder
from scrapejobs.web.views import relative, when

__all__ = ["router", "site_row"]

router = APIRouter(include_in_schema=False, dependencies=PAGES)
PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class SiteRow:
    site: str
    state: str
    until: str | None
    """``12:02:00 UTC, in 2 min``; None when the state has no end."""
    until_iso: str | None
    why: str | None
    limits: str
    workers: int
    pending: int
    running: int
    paused: bool
    holds: bool


def site_row(view: SiteView) -> SiteRow:
    """One site as the table shows it."""
    site, now = view.site, view.now
    hold = site.hold(now)
    until = hold[0] if hold else None
    rate = rate_limit(site)
    pace = f"{rate:g}/s" if rate else "any rate"
    return SiteRow(
        site=site.site,
        state=view.status.value,
        until=f"{when(until)}, {relative(until, now)}" if until else None,
        until_iso=timestamp(until) if until else None,
        why=hold[1] if hold else (site.breaker_reason if site.breaker_until else None),
        limits=f"{pace}, {concurrency_limit(site)} at once",
        workers=view.workers,
        pending=view.jobs[JobStatus.PENDING],
        running=view.jobs[JobStatus.RUNNING],
        paused=site.paused,
        holds=view.status is not SiteStatus.OPEN,
    )


def _state(raw: str | None) -> SiteStatus | None:
    try:
        return SiteStatus(raw) if raw else None
    except ValueError:
        return None


@router.api_route("/domains", methods=PAGE_METHODS)
async def domains_page(request: Request, manager: Manager) -> HTMLResponse:
    state = _state(request.query_params.get("state"))
    views, total = await manager.sites.list_sites(status=state, limit=PAGE_SIZE)
    counts = await manager.sites.count_by_state()
    context: dict[str, Any] = {
        "nav": "domains",
        "rows": [site_row(view) for view in views],
        "total": total,
        "state": state.value if state else "",
        "states": [(status.value, counts[status]) for status in SiteStatus],
        "message": request.query_params.get("message"),
    }
    return render(request, "domains.html", context)


async def _act(audit: Recorder, act: Awaitable[SiteView], site: str, done: str) -> Response:
    """Do it, then back to the page, which says what happened."""
    try:
        view = await act
        message = f"{site}: {done}"
        if done == "resumed":
            await audit(AuditAction.SITE_RESUME, view.site.site)
        else:
            await audit(AuditAction.SITE_UPDATE, view.site.site, after={"paused": view.site.paused})
    except ScrapeJobsError as exc:
        message = f"{site}: {exc.message}"
    return RedirectResponse(f"/domains?{urlencode({'message': message})}", status_code=303)


@router.post("/domains/{site}/pause")
async def pause_site(manager: Manager, _caller: Admin, audit: Audit, site: str) -> Response:
    return await _act(audit, manager.sites.pause(site), site, "paused")


@router.post("/domains/{site}/unpause")
async def unpause_site(manager: Manager, _caller: Admin, audit: Audit, site: str) -> Response:
    return await _act(audit, manager.sites.pause(site, False), site, "unpaused")


@router.post("/domains/{site}/resume")
async def resume_site(manager: Manager, _caller: Admin, audit: Audit, site: str) -> Response:
    return await _act(audit, manager.sites.resume(site), site, "resumed")
