"""The FastAPI application: store and manager on start, the lease reaper, routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from scrapejobs.errors import StorageUnavailable
from scrapejobs.manager import JobManager
from scrapejobs.settings import Settings
from scrapejobs.storage import migrate
from scrapejobs.storage.store import JobStore
from scrapejobs.web.envelope import (
    document_envelope_errors,
    failure,
    install_error_handlers,
    success,
)
from scrapejobs.web.jobs_api import router as jobs_router

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def open_store(settings: Settings) -> JobStore:
    """Open the database; migrate SQLite on start, check PostgreSQL's revision."""
    store = JobStore.from_url(settings.database_url)
    try:
        if settings.is_sqlite:
            await migrate.upgrade(store.engine)
        else:
            await migrate.check_schema(store.engine)
    except BaseException:
        await store.close()
        raise
    return store


async def reap_leases_forever(manager: JobManager, interval: float) -> None:
    """Fail jobs whose worker stopped renewing its lease, every ``interval`` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            for job in await manager.reap_expired_leases():
                log.warning("job %s: lease expired, worker lost (now %s)", job.id, job.status)
        except StorageUnavailable as exc:
            log.error("lease reaper: %s (%s)", exc.message, exc.details)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await open_store(settings)
        manager = JobManager(store, settings.policy, lease_seconds=settings.lease_seconds)
        app.state.manager = manager
        reaper = asyncio.create_task(reap_leases_forever(manager, settings.reap_interval))
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await store.close()

    app = FastAPI(
        title="scrapejobs",
        summary="Scrape jobs that fail and recover well.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(jobs_router)
    document_envelope_errors(app)

    @app.get("/healthz", tags=["health"], summary="Liveness, with a database check")
    async def healthz() -> JSONResponse:
        manager: JobManager = app.state.manager
        try:
            await manager.store.ping()
        except StorageUnavailable as exc:
            return failure(503, "Database unavailable", exc.details)
        return success({"status": "ok", "database": "ok"})

    return app
