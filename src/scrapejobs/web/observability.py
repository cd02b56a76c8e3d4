"""``GET /metrics`` and the middleware that times every HTTP request by route."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scrapejobs.manager import JobManager
from scrapejobs.metrics import HTTP_DURATION, exposition
from scrapejobs.web.auth import Viewer

__all__ = ["RequestTimer", "router"]

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics (text format)", response_class=Response)
async def metrics(request: Request, _caller: Viewer) -> Response:
    manager: JobManager = request.app.state.manager
    jobs_by_status, tally = await manager.insights.shared_counts()
    sites = await manager.sites.count_by_state()
    return Response(exposition(jobs_by_status, tally, sites), media_type=CONTENT_TYPE_LATEST)


class RequestTimer:
    """Observes ``scrapejobs_http_request_duration_seconds`` by method, route template, status.

    The route is the template (``/api/scrape-jobs/{job_id}``), never the raw
    path, so that label values stay few; unmatched paths count as ``<unmatched>``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            HTTP_DURATION.labels(scope["method"], _route(scope), str(status)).observe(
                time.perf_counter() - start
            )


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    # path_format: the template without convertors ({job_id}, not {job_id:job_id})
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template or "<unmatched>"
