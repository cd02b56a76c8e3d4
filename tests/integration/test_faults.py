"""Faults: a database failing mid-request, connections that die. Nothing lost or half-written."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from scrapejobs.settings import Settings
from scrapejobs.storage.database import make_engine
from scrapejobs.web import create_app
from scrapejobs.web.envelope import DATABASE_DOWN
from tests.conftest import _dsn, _truncate
from tests.integration.test_api import JOBS, failed


async def test_retry_endpoint_reports_a_database_failure_as_the_seed_says(
    api: httpx.AsyncClient, database_url: str
) -> None:
    job_id = await failed(api)
    admin = make_engine(database_url)  # another client of the same database breaks it
    async with admin.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE job_events RENAME TO job_events_away"))
    try:
        response = await api.post(f"{JOBS}/{job_id}/retry")
    finally:
        async with admin.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE job_events_away RENAME TO job_events"))
        await admin.dispose()
    assert response.status_code == 500
    assert response.json() == {
        "success": False,
        "error": "Failed to retry scrape job",
        "details": "Unable to update job status in database",
    }
    job = (await api.get(f"{JOBS}/{job_id}")).json()["data"]
    assert (job["status"], job["retry_count"]) == ("failed", 0)


@pytest.fixture
async def postgres_api(postgres_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await _truncate(postgres_url)
    app = create_app(Settings(database_url=postgres_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_postgres_connections_killed_by_the_server_are_replaced(
    postgres_api: httpx.AsyncClient, postgres_url: str
) -> None:
    """An administrator (or a failover) kills every connection: the next requests still work."""
    created = await postgres_api.post(JOBS, json={"domain": "example.com"})
    job_id = created.json()["data"]["id"]
    admin = await asyncpg.connect(_dsn(postgres_url))
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert killed >= 1
    claimed = await postgres_api.post(f"{JOBS}/next", json={"workerId": "w1"})
    assert claimed.status_code == 200
    assert claimed.json()["data"]["id"] == job_id
    health = await postgres_api.get("/healthz")
    assert health.status_code == 200


async def test_a_database_failure_shows_clients_no_driver_internals(
    api: httpx.AsyncClient, database_url: str
) -> None:
    """What failed (driver exceptions, addresses, table names) goes to the log, not out."""
    admin = make_engine(database_url)
    async with admin.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE jobs RENAME TO jobs_away"))
    try:
        listing = await api.get(JOBS)
        health = await api.get("/healthz")
    finally:
        async with admin.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE jobs_away RENAME TO jobs"))
        await admin.dispose()
    for response, status in ((listing, 500), (health, 503)):
        assert response.status_code == status
        body = response.json()
        assert body["error"] == "Database unavailable"
        assert body["details"] == DATABASE_DOWN
        assert "Error" not in response.text and "jobs" not in response.text
