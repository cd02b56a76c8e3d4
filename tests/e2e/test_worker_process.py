"""``scrapejobs worker`` processes killed and stopped mid-crawl: no job is lost."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from scrapejobs.jobs import Job, JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.storage import SqlStore
from tests.factories import job_request
from tests.servers import scrapejobs
from tests.sites import Site, html, page, serve_site

SLOW_PAGES = 15


@pytest.fixture
async def slow_site() -> AsyncIterator[Site]:
    """/ links to SLOW_PAGES pages that take 0.2 s each: a crawl of about 3 s."""

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        return html("slow")

    site = Site()
    site.routes["/"] = page("".join(f'<a href="/s{n}">s</a>' for n in range(SLOW_PAGES)))
    for n in range(SLOW_PAGES):
        site.routes[f"/s{n}"] = slow
    async with serve_site(site):
        yield site


@pytest.fixture
async def manager(database_url: str) -> AsyncIterator[JobManager]:
    store = SqlStore.from_url(database_url)
    yield JobManager(store)
    await store.close()


async def start_worker(database_url: str, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *scrapejobs("worker", "--database-url", database_url, "--concurrency", "1"),
        *("--lease-seconds", "2", "--retry-delays", "0.2", "--allow-private-networks", *extra),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


Ready = Callable[[Job], Awaitable[bool]]


async def wait_for(manager: JobManager, job_id: str, ready: Ready, patience: float = 60) -> Job:
    deadline = time.monotonic() + patience
    while not await ready(job := await manager.get_job(job_id)):
        assert time.monotonic() < deadline, f"gave up waiting; job is {job.status}"
        await asyncio.sleep(0.1)
    return job


def crawling(manager: JobManager) -> Ready:
    async def ready(job: Job) -> bool:
        return job.status is JobStatus.RUNNING and await manager.results.pages_crawled(job) > 0

    return ready


def finished(*statuses: JobStatus) -> Ready:
    async def ready(job: Job) -> bool:
        return job.status in statuses

    return ready


async def test_a_worker_killed_mid_crawl_loses_no_job(
    database_url: str, manager: JobManager, slow_site: Site
) -> None:
    first = await start_worker(database_url)
    job, _ = await manager.create_job(
        job_request(domain=slow_site.origin, config={"depth": 1, "maxConcurrentRequests": 1})
    )
    try:
        await wait_for(manager, job.id, crawling(manager))
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()

    second = await start_worker(database_url)
    try:
        done = await wait_for(manager, job.id, finished(JobStatus.COMPLETED, JobStatus.FAILED))
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    assert done.status is JobStatus.COMPLETED
    assert done.retry_count == 1
    attempts = await manager.get_attempts(job.id)
    assert [(a.outcome, a.errorType) for a in attempts] == [
        ("failed", "worker_lost"),
        ("completed", None),
    ]
    assert await manager.results.pages_crawled(done) == SLOW_PAGES + 1


async def test_sigterm_releases_running_jobs_and_exits_cleanly(
    database_url: str, manager: JobManager, slow_site: Site
) -> None:
    worker = await start_worker(database_url, "--shutdown-grace", "0")
    job, _ = await manager.create_job(
        job_request(domain=slow_site.origin, config={"depth": 1, "maxConcurrentRequests": 1})
    )
    await wait_for(manager, job.id, crawling(manager))
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(worker.wait(), 30) == 0
    released = await manager.get_job(job.id)
    assert released.status is JobStatus.PENDING
    assert released.retry_count == 0
    [attempt] = await manager.get_attempts(job.id)
    assert attempt.outcome == "released"
