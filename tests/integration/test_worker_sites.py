"""Two workers (each with its own crawler and database connections) on one site.

What one worker's crawl hears, or an operator does, reaches the other's
crawls through the database within the sync interval (``SiteSync``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web

from scrapejobs.crawler import AddressPolicy, Crawler
from scrapejobs.events import EventKind
from scrapejobs.jobs import Job, JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.retry import RetryPolicy
from scrapejobs.sites import SiteStatus
from scrapejobs.storage import SqlStore
from scrapejobs.worker import Worker
from tests.factories import job_request
from tests.sites import Site, html, page, serve_site

SYNC = 0.2
Ready = Callable[[Job], bool | Awaitable[bool]]


@dataclass
class Fleet:
    managers: list[JobManager]
    workers: list[Worker]
    site: Site

    @property
    def manager(self) -> JobManager:
        return self.managers[0]

    @property
    def name(self) -> str:
        return self.site.origin.removeprefix("http://")

    async def submit(self, path: str) -> Job:
        start = {"startUrl": self.site.origin + path, "maxConcurrentRequests": 1}
        job, _ = await self.manager.create_job(job_request(domain=self.site.origin, config=start))
        return job

    async def wait_for(self, job_id: str, ready: Ready, patience: float = 30) -> Job:
        deadline = time.monotonic() + patience
        while True:
            job = await self.manager.get_job(job_id)
            answer = ready(job)
            if await answer if inspect.isawaitable(answer) else answer:
                return job
            assert time.monotonic() < deadline, f"job stayed {job.status}"
            await asyncio.sleep(0.05)


@pytest.fixture
async def fleet(database_url: str) -> AsyncIterator[Fleet]:
    stores = [SqlStore.from_url(database_url) for _ in range(2)]
    managers = [JobManager(store, RetryPolicy(delays=(0.2,)), lease_seconds=2) for store in stores]
    crawlers = [Crawler(policy=AddressPolicy(allow_private_networks=True)) for _ in managers]
    workers = [
        Worker(
            manager,
            crawler,
            concurrency=1,
            poll_interval=0.05,
            shutdown_grace=0,
            site_sync_interval=SYNC,
        )
        for manager, crawler in zip(managers, crawlers, strict=True)
    ]
    async with serve_site(Site()) as site:
        running = [asyncio.create_task(worker.run()) for worker in workers]
        try:
            yield Fleet(managers, workers, site)
        finally:
            for worker in workers:
                worker.stop()
            await asyncio.gather(*running)
            for crawler, store in zip(crawlers, stores, strict=True):
                await crawler.close()
                await store.close()


def slow_pages(site: Site, prefix: str, count: int, seconds: float = 0.1) -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(seconds)
        return html("slow")

    site.routes[f"{prefix}/"] = page("".join(f'<a href="{prefix}/{n}">p</a>' for n in range(count)))
    for n in range(count):
        site.routes[f"{prefix}/{n}"] = slow


def running_with_pages(manager: JobManager) -> Ready:
    async def ready(job: Job) -> bool:
        return job.status is JobStatus.RUNNING and await manager.results.pages_crawled(job) > 0

    return ready


async def test_a_cooldown_one_worker_hears_holds_the_other_workers_crawl(fleet: Fleet) -> None:
    site = fleet.site
    slow_pages(site, "/b", 40, seconds=0.05)
    limited_at: list[float] = []

    async def limited(_request: web.Request) -> web.Response:
        if not limited_at:
            limited_at.append(time.monotonic())
            return web.Response(status=429, headers={"Retry-After": "2"})
        return html("fine now")

    site.routes["/a/"] = page('<a href="/a/limited">l</a>')
    site.routes["/a/limited"] = limited
    b = await fleet.submit("/b/")
    claimed_b = await fleet.wait_for(b.id, lambda job: job.status is JobStatus.RUNNING)
    a = await fleet.submit("/a/")
    done_a = await fleet.wait_for(a.id, lambda job: job.status is JobStatus.COMPLETED)
    done_b = await fleet.wait_for(b.id, lambda job: job.status is JobStatus.COMPLETED)
    assert done_a.worker_id is None and claimed_b.worker_id is not None
    [t0] = limited_at
    # The other worker learns within one sync (plus a request in flight).
    quiet = [h for h in site.hits if h.path.startswith("/b/") and t0 + SYNC + 0.3 < h.at < t0 + 1.9]
    assert quiet == []
    assert done_b.retry_count == 0 and done_a.retry_count == 0


async def test_pausing_a_site_stops_its_running_crawls_and_releases_them(fleet: Fleet) -> None:
    slow_pages(fleet.site, "/p", 200)
    job = await fleet.submit("/p/")
    await fleet.wait_for(job.id, running_with_pages(fleet.manager))
    await fleet.manager.sites.pause(fleet.name)
    released = await fleet.wait_for(job.id, lambda job: job.status is JobStatus.PENDING)
    paused_at = time.monotonic()
    assert released.retry_count == 0
    events = await fleet.manager.get_events(job.id)
    assert events[-1].event is EventKind.RELEASED
    assert events[-1].details == {
        "reason": f"{fleet.name} is held back until resumed: paused by an operator"
    }
    await asyncio.sleep(0.5)
    assert [h for h in fleet.site.hits if h.at > paused_at + 0.2] == []  # nobody claims it
    await fleet.manager.sites.resume(fleet.name)
    again = await fleet.wait_for(job.id, lambda job: job.status is not JobStatus.PENDING)
    assert again.status is JobStatus.RUNNING and again.retry_count == 0
    assert (await fleet.manager.sites.get_site(fleet.name)).status is SiteStatus.OPEN
