"""Sites across real ``scrapejobs worker`` processes: a dead site's circuit opens for
the fleet, one probe at a time tests it, and the jobs run once it is back."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from scrapejobs.events import EventKind
from scrapejobs.jobs import JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.sites import SiteStatus
from scrapejobs.storage import SqlStore
from tests.factories import job_request
from tests.servers import scrapejobs
from tests.sites import Site, page, serve_site

JOBS = 20
WORKERS, SLOTS = 2, 2
FAILURES = 3  # --circuit-failures


@pytest.fixture
async def manager(database_url: str) -> AsyncIterator[JobManager]:
    store = SqlStore.from_url(database_url)
    yield JobManager(store)
    await store.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_worker(database_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *scrapejobs("worker", "--database-url", database_url, "--concurrency", str(SLOTS)),
        *("--retry-delays", "0.2", "--allow-private-networks", "--lease-seconds", "5"),
        *("--circuit-failures", str(FAILURES), "--circuit-open-seconds", "1"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def attempts(manager: JobManager) -> int:
    jobs = await manager.find_jobs(JobFilter(), limit=1000)
    events = [e for job in jobs for e in await manager.get_events(job.id)]
    return sum(1 for event in events if event.event is EventKind.STARTED)


async def eventually(check: Callable[[], Awaitable[bool]], patience: float = 60) -> None:
    deadline = time.monotonic() + patience
    while not await check():
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.1)


async def test_a_dead_site_costs_the_fleet_a_few_probes_and_its_jobs_run_once_it_is_back(
    database_url: str, manager: JobManager
) -> None:
    port = free_port()  # nothing listens: every connection is refused
    origin = f"http://127.0.0.1:{port}"
    for _ in range(JOBS):
        await manager.create_job(job_request(domain=origin, config={"depth": 0}))
    workers = [await start_worker(database_url) for _ in range(WORKERS)]
    try:

        async def opened_twice() -> bool:
            site = (await manager.sites.get_site(origin)).site
            return site.breaker_trips >= 2

        await eventually(opened_twice)
        down = await attempts(manager)
        # The attempts that opened it, those already running then, and one probe per opening.
        trips = (await manager.sites.get_site(origin)).site.breaker_trips
        assert down <= FAILURES + WORKERS * SLOTS + trips
        waiting = await manager.find_jobs(JobFilter(status=JobStatus.PENDING), limit=JOBS)
        untouched = sum(1 for job in waiting if job.retry_count == 0)
        assert untouched >= JOBS - FAILURES - WORKERS * SLOTS  # waiting spent no retry

        site = Site(routes={"/": page("back")})
        async with serve_site(site, port):

            async def all_done() -> bool:
                counts = await manager.count_by_status(JobFilter())
                return counts[JobStatus.COMPLETED] == JOBS

            await eventually(all_done)
        view = await manager.sites.get_site(origin)
        assert view.status is SiteStatus.OPEN
        assert view.site.breaker_trips == 0 and view.site.failure_streak == 0
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            await asyncio.wait_for(worker.wait(), 30)
