"""The dashboard's activity: ``/running`` (the running jobs, live) and the activity
section of ``/analytics`` (throughput and queue latency over time).

Thin: parse, call ``manager.insights``, shape with ``activity_view``, render.
Both refresh through htmx: the running table every 3 s (``/running/live``),
the activity section every 10 s (``/analytics/activity``); without
JavaScript they are plain pages that a reload refreshes.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from scrapejobs.jobs import timestamp
from scrapejobs.manager import JobManager
from scrapejobs.web.activity_view import ActivityView, activity_view, parse_span, running_row
from scrapejobs.web.pages import PAGE_METHODS, PAGES, Manager, is_htmx, render
from scrapejobs.web.views import when

__all__ = ["activity_section", "router"]

router = APIRouter(include_in_schema=False, dependencies=PAGES)
SPAN_PARAMETER = "activity"
"""The analytics page's query parameter for the activity range (``hour``, ``day``)."""


async def activity_section(request: Request, manager: JobManager) -> ActivityView:
    """The analytics page's activity section, for the range its query string asks."""
    span = parse_span(request.query_params.get(SPAN_PARAMETER))
    return activity_view(await manager.insights.activity(span))


@router.get("/analytics/activity")
async def activity_fragment(request: Request, manager: Manager) -> Response:
    """The activity section alone, polled by the analytics page."""
    span = parse_span(request.query_params.get("span"))
    if not is_htmx(request):
        query = urlencode({SPAN_PARAMETER: span.key})
        return RedirectResponse(f"/analytics?{query}#activity", status_code=303)
    activity = activity_view(await manager.insights.activity(span))
    return render(request, "_activity.html", {"activity": activity})


async def _running_context(manager: JobManager) -> dict[str, object]:
    running = await manager.insights.running()
    return {
        "nav": "running",
        "rows": [running_row(job, pages, running.now) for job, pages in running.jobs],
        "total": running.total,
        "refreshed": when(running.now),
        "refreshed_iso": timestamp(running.now),
    }


@router.api_route("/running", methods=PAGE_METHODS)
async def running_page(request: Request, manager: Manager) -> HTMLResponse:
    return render(request, "running.html", await _running_context(manager))


@router.get("/running/live")
async def running_live(request: Request, manager: Manager) -> HTMLResponse:
    """The live part of ``/running``, polled every 3 s."""
    return render(request, "_running_live.html", await _running_context(manager))
