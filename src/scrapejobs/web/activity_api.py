"""``GET /api/scrape-jobs/activity``: throughput and queue latency over time, as JSON.

The same numbers as the analytics page's activity section
(``manager.insights.activity``); docs/api.md defines each field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from scrapejobs.activity import Activity, LatencySummary
from scrapejobs.jobs import timestamp
from scrapejobs.schemas import StrictModel
from scrapejobs.web.activity_view import parse_span
from scrapejobs.web.auth import Viewer
from scrapejobs.web.envelope import success
from scrapejobs.web.pages import Manager

__all__ = ["activity_json", "router"]

# Registered before the jobs router, whose /{job_id} would take "activity".
router = APIRouter(prefix="/api/scrape-jobs", tags=["jobs"])


class ActivityQuery(StrictModel):
    span: Literal["hour", "day"] = "hour"


def _latency(summary: LatencySummary) -> dict[str, Any]:
    return {"count": summary.count, "p50": summary.p50, "p95": summary.p95, "max": summary.max}


def activity_json(activity: Activity) -> dict[str, Any]:
    win = activity.window
    totals = activity.totals
    return {
        "span": activity.span.key,
        "bucketSeconds": win.width,
        "from": timestamp(win.start),
        "to": timestamp(win.end),
        "generatedAt": timestamp(activity.now),
        "throughput": {
            "totals": {
                "completed": totals.completed,
                "failed": totals.failed,
                "retried": totals.retried,
            },
            "buckets": [
                {
                    "start": timestamp(b.start),
                    "completed": b.completed,
                    "failed": b.failed,
                    "retried": b.retried,
                }
                for b in activity.throughput
            ],
        },
        "queueLatency": {
            "overall": _latency(activity.overall),
            "buckets": [
                {"start": timestamp(b.start), **_latency(b.latency)} for b in activity.latency
            ],
        },
    }


@router.get("/activity", summary="Throughput and queue latency per minute (hour) or 15 min (day)")
async def activity(
    manager: Manager, _caller: Viewer, query: Annotated[ActivityQuery, Query()]
) -> JSONResponse:
    """Completed, failed and retried per bucket, and how long started attempts waited
    for a worker (seconds, nearest-rank percentiles); defined in docs/dashboard.md."""
    report = await manager.insights.activity(parse_span(query.span))
    return success(activity_json(report))
