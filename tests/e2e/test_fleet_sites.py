"""Sites across real ``scrapejobs worker`` processes: a dead site's circuit opens for
the fleet, one probe at a time tests it, and the jobs run once it is back."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from scrapejobs.events import EventKind
from scrapejobs.jobs import JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.sites import SiteStatus
from scrapejobs.storage import SqlStore
from tests.factories import job_request
from tests.servers import scrapejobs
from tests.sites import Seen, Site, counting_site, html, page, serve_site

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
        await stop(workers)


async def start_fleet_worker(database_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *scrapejobs("worker", "--database-url", database_url, "--concurrency", "3"),
        *("--allow-private-networks", "--site-sync-interval", str(SYNC)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


SYNC = 0.2
FLEET = 3


async def test_three_worker_processes_share_a_sites_rate_and_concurrency(
    database_url: str, manager: JobManager
) -> None:
    """9 jobs of 15 pages, 3 processes x 3 slots x 8 requests a job: the site, capped
    at 3 in flight and 15 requests/s, sees no more from the moment all three share it."""
    seen = Seen()
    async with serve_site(counting_site(seen, 9, 15, pause=0.05)) as site:
        for job in range(9):
            config = {"startUrl": f"{site.origin}/{job}/", "respectRobots": False}
            await manager.create_job(job_request(domain=site.origin, config=config))
        await manager.sites.update(
            site.origin, max_concurrent_requests=3, max_requests_per_second=15.0
        )
        workers = [await start_fleet_worker(database_url) for _ in range(FLEET)]
        try:

            async def all_share() -> bool:
                return (await manager.sites.get_site(site.origin)).workers == FLEET

            await eventually(all_share)
            seen.since = time.monotonic() + 2 * SYNC  # the first members give up their excess

            async def all_done() -> bool:
                counts = await manager.count_by_status(JobFilter())
                return counts[JobStatus.COMPLETED] == 9

            await eventually(all_done)
        finally:
            await stop(workers)
    assert len(seen.arrivals) == 9 * 16
    assert seen.peak <= 3
    # 5 requests/s each, starts 0.2 s apart: any second holds at most 15 + 3 (phases).
    assert 10 <= seen.most_in(1.0) <= 18


async def test_a_retry_after_holds_every_worker_process(
    database_url: str, manager: JobManager
) -> None:
    """A 429 with Retry-After: 5 to one request: from one sync later until the 5 s are
    over, the site gets no request from any of the three processes; no retry is spent."""
    seen = Seen()
    limited_at: list[float] = []
    site = counting_site(seen, 6, 30, pause=0.02)

    async def limited(_request: web.Request) -> web.Response:
        if not limited_at:
            limited_at.append(time.monotonic())
            return web.Response(status=429, headers={"Retry-After": "5"})
        return html("fine now")

    site.routes["/0/"] = page(
        '<a href="/0/limited">l</a>' + "".join(f'<a href="/0/{n}">p</a>' for n in range(30))
    )
    site.routes["/0/limited"] = limited
    async with serve_site(site):
        for job in range(6):
            config = {
                "startUrl": f"{site.origin}/{job}/",
                "respectRobots": False,
                "maxConcurrentRequests": 1,
            }
            await manager.create_job(job_request(domain=site.origin, config=config))
        workers = [await start_fleet_worker(database_url) for _ in range(FLEET)]
        try:

            async def all_done() -> bool:
                counts = await manager.count_by_status(JobFilter())
                return counts[JobStatus.COMPLETED] == 6

            await eventually(all_done, patience=90)
        finally:
            await stop(workers)
    [at] = limited_at
    quiet = [t for t in seen.arrivals if at + SYNC + 0.15 <= t < at + 4.9]
    assert quiet == []
    assert any(t >= at + 4.9 for t in seen.arrivals)  # and it crawled on afterwards
    jobs = await manager.find_jobs(JobFilter(), limit=10)
    assert {job.retry_count for job in jobs} == {0}


async def stop(workers: list[asyncio.subprocess.Process]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        await asyncio.wait_for(worker.wait(), 30)


async def test_a_paused_site_gets_no_request_from_any_worker_process(
    database_url: str, manager: JobManager
) -> None:
    """Paused before the workers start: three processes send it nothing for 3 s;
    unpaused, its jobs run, none of them having spent a retry."""
    seen = Seen()
    async with serve_site(counting_site(seen, 3, 2, pause=0.01)) as site:
        await manager.sites.pause(site.origin)
        for job in range(3):
            config = {"startUrl": f"{site.origin}/{job}/", "respectRobots": False}
            await manager.create_job(job_request(domain=site.origin, config=config))
        workers = [await start_fleet_worker(database_url) for _ in range(FLEET)]
        try:
            await asyncio.sleep(3)
            assert seen.arrivals == []
            await manager.sites.pause(site.origin, False)

            async def all_done() -> bool:
                counts = await manager.count_by_status(JobFilter())
                return counts[JobStatus.COMPLETED] == 3

            await eventually(all_done)
        finally:
            await stop(workers)
    assert len(seen.arrivals) == 3 * 3
    jobs = await manager.find_jobs(JobFilter(), limit=10)
    assert {job.retry_count for job in jobs} == {0}
