"""A site's limits hold for the fleet: two workers (each with its own crawler and
database connections) share one site's requests in flight and requests per second.

The site counts what it sees: the most requests in flight at once, and when
each arrived. A worker that joins takes its share at once; the others give up
theirs at their next sync, so the counts start two sync intervals after both
workers are members of the site.
"""

from __future__ import annotations

import asyncio
import time

from scrapejobs.crawler import AddressPolicy, Crawler
from scrapejobs.jobs import JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.storage import SqlStore
from scrapejobs.worker import Worker
from tests.factories import job_request
from tests.sites import Seen, counting_site, serve_site

SYNC = 0.2
JOBS, PAGES = 6, 12


async def fleet_run(database_url: str, limits: dict[str, float | int], pause: float) -> Seen:
    """Two workers crawl JOBS jobs of PAGES pages on one site with ``limits``.

    The second to join takes its share at once and the first gives up its
    excess at its next sync: counting starts two syncs after both are members.
    """
    counted = Seen()
    site = counting_site(counted, JOBS, PAGES, pause)
    stores = [SqlStore.from_url(database_url) for _ in range(2)]
    managers = [JobManager(store) for store in stores]
    crawlers = [Crawler(policy=AddressPolicy(allow_private_networks=True)) for _ in managers]
    workers = [
        Worker(m, c, concurrency=3, poll_interval=0.05, site_sync_interval=SYNC)
        for m, c in zip(managers, crawlers, strict=True)
    ]
    async with serve_site(site):
        for job in range(JOBS):
            config = {"startUrl": f"{site.origin}/{job}/", "respectRobots": False}
            await managers[0].create_job(job_request(domain=site.origin, config=config))
        await managers[0].sites.update(site.origin, **limits)
        running = [asyncio.create_task(worker.run()) for worker in workers]
        try:
            deadline = time.monotonic() + 60
            while (await managers[0].count_by_status(JobFilter()))[JobStatus.COMPLETED] < JOBS:
                assert time.monotonic() < deadline, "the jobs did not finish"
                sharing = (await managers[0].sites.get_site(site.origin)).workers == 2
                if sharing and counted.since == float("inf"):
                    counted.since = time.monotonic() + 2 * SYNC
                await asyncio.sleep(0.05)
        finally:
            for worker in workers:
                worker.stop()
            await asyncio.gather(*running)
            for crawler, store in zip(crawlers, stores, strict=True):
                await crawler.close()
                await store.close()
    assert len(counted.arrivals) == JOBS * (1 + PAGES)
    assert counted.since < float("inf"), "the two workers never shared the site"
    return counted


async def test_requests_in_flight_to_a_site_stay_within_its_limit(database_url: str) -> None:
    """6 jobs of up to 8 requests each, in 2 workers: the site sees at most 2 at once."""
    counted = await fleet_run(database_url, {"max_concurrent_requests": 2}, pause=0.1)
    assert counted.peak == 2


async def test_requests_per_second_to_a_site_stay_within_its_limit(database_url: str) -> None:
    """20 requests/s for the fleet: 10/s each, starts 0.1 s apart in each worker, so any
    second holds at most 22 (the bound of two phases), and the fleet gets close to 20."""
    counted = await fleet_run(database_url, {"max_requests_per_second": 20.0}, pause=0.005)
    assert 14 <= counted.most_in(1.0) <= 22
