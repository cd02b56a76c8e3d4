"""The FastAPI application: store and manager on start, the lease reaper, routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from scrapejobs.errors import StorageUnavailable
from scrapejobs.manager import JobManager
from scrapejobs.service import running_service
from scrapejobs.settings import Settings
from scrapejobs.web.activity_api import router as activity_api_router
from scrapejobs.web.activity_page import router as activity_page_router
from scrapejobs.web.api_docs import router as api_docs_router
from scrapejobs.web.audit_api import router as audit_api_router
from scrapejobs.web.audit_page import router as audit_page_router
from scrapejobs.web.auth import CrossSiteGuard
from scrapejobs.web.bounds import BoundedRequests
from scrapejobs.web.dashboard import router as dashboard_router
from scrapejobs.web.domains_page import router as domains_page_router
from scrapejobs.web.envelope import database_failure, install_error_handlers, success
from scrapejobs.web.job_page import router as job_page_router
from scrapejobs.web.jobs_api import router as jobs_router
from scrapejobs.web.keys_api import router as keys_router
from scrapejobs.web.observability import RequestTimer
from scrapejobs.web.observability import router as metrics_router
from scrapejobs.web.openapi import document_envelope_errors
from scrapejobs.web.pages import static_files
from scrapejobs.web.signin import install_sign_in
from scrapejobs.web.sites_api import router as sites_router

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_service(settings, workers=settings.workers) as manager:
            app.state.manager = manager
            yield

    app = FastAPI(
        title="scrapejobs",
        summary="Scrape jobs that fail and recover well.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load from a CDN; api_docs serves them offline
        redoc_url=None,
    )
    install_error_handlers(app)
    install_sign_in(app)  # before the dashboard's routers: /login is not a page behind it
    app.add_middleware(  # innermost: the middlewares around it refuse without reading a body
        BoundedRequests,
        max_body_bytes=settings.max_body_bytes,
        client_timeout=settings.client_timeout,
    )
    app.add_middleware(CrossSiteGuard)
    app.add_middleware(RequestTimer)
    app.include_router(activity_api_router)  # before jobs: /{job_id} would take /activity
    app.include_router(jobs_router)
    app.include_router(sites_router)
    app.include_router(keys_router)
    app.include_router(audit_api_router)
    app.include_router(dashboard_router)  # before job_page: /jobs/new is not a job id
    app.include_router(domains_page_router)
    app.include_router(activity_page_router)
    app.include_router(audit_page_router)
    app.include_router(job_page_router)
    app.mount("/static", static_files(), name="static")
    app.include_router(metrics_router)
    app.include_router(api_docs_router)
    document_envelope_errors(app)

    @app.get("/healthz", tags=["health"], summary="Liveness, with a database check")
    async def healthz() -> JSONResponse:
        manager: JobManager = app.state.manager
        try:
            await manager.ping()
        except StorageUnavailable as exc:
            return database_failure(503, exc)
        return success({"status": "ok", "database": "ok"})

    return app
