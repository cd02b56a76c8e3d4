"""Shared fixtures: real SQLite and real PostgreSQL, a controllable clock, an API client.

Storage and API tests take ``database_url``, which runs them once on a fresh
SQLite file and once on PostgreSQL. PostgreSQL is not optional: with no
server at ``SCRAPEJOBS_TEST_POSTGRES_URL`` (default
postgresql://postgres@127.0.0.1:5432/test) those tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from scrapejobs.access import Role
from scrapejobs.manager import JobManager
from scrapejobs.retry import RetryPolicy
from scrapejobs.settings import Settings
from scrapejobs.storage import SqlStore, migrate
from scrapejobs.store import Store
from scrapejobs.web import create_app

POSTGRES_URL = os.environ.get(
    "SCRAPEJOBS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DATABASES = ["sqlite", "postgresql"]


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_database(base_url: str, name: str) -> None:
    conn = await asyncpg.connect(_dsn(base_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(base_url: str, name: str) -> None:
    conn = await asyncpg.connect(_dsn(base_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    store = SqlStore.from_url(url)
    try:
        await migrate.upgrade(store.engine)
    finally:
        await store.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    name = f"scrapejobs_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_create_database(POSTGRES_URL, name))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(_drop_database(POSTGRES_URL, name))


async def _truncate(url: str) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        await conn.execute(
            "TRUNCATE pages, job_events, jobs, job_counts, failure_counts, sites, site_members, "
            "audit_log, api_keys"
        )
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once; each test gets a copy (migrating costs ~80 ms)."""
    path = tmp_path_factory.mktemp("template") / "scrapejobs.db"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    return path


@pytest.fixture(params=DATABASES)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str, sqlite_template: Path
) -> str:
    """A clean, migrated database: a new SQLite file, or the emptied PostgreSQL one."""
    if request.param == "sqlite":
        path = tmp_path / "scrapejobs.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    await _truncate(postgres_url)
    return postgres_url


class Clock:
    """A clock the test moves by hand (the domain never reads the time itself)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2024, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    store = SqlStore.from_url(database_url)
    yield store
    await store.close()


@pytest.fixture
def manager(store: Store, clock: Clock) -> JobManager:
    return JobManager(store, RetryPolicy(), lease_seconds=60, clock=clock)


@asynccontextmanager
async def app_client(
    database_url: str, base_url: str = "http://test"
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The real app (lifespan included) over ``database_url``, and an HTTP client on it."""
    app = create_app(Settings(database_url=database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield app, client


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the real app (lifespan included) over the test database."""
    async with app_client(database_url) as (_, client):
        yield client


class Keyed:
    """The app over the test database, with one key per role (named as the role)."""

    def __init__(self, api: httpx.AsyncClient, manager: JobManager) -> None:
        self.api = api
        self.manager = manager
        self.tokens: dict[Role, str] = {}

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def call(self, role: Role | None, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = self.auth(role) if role else {}
        return await self.api.request(method, path, headers=headers, **kw)


@pytest.fixture
async def keyed(database_url: str) -> AsyncIterator[Keyed]:
    """The app with a key of each role, named ``<role>-key``."""
    async with app_client(database_url) as (app, client):
        manager: JobManager = app.state.manager
        keyed = Keyed(client, manager)
        for role in Role:
            _, keyed.tokens[role] = await manager.keys.create(f"{role}-key", role, by="test")
        yield keyed
