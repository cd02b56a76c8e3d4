"""The autoscaled pool of a real Worker (``scrapejobs.autoscale``): with I/O-bound jobs
waiting it grows from its minimum, and it never runs more than its maximum."""

from __future__ import annotations

import asyncio

from scrapejobs.jobs import JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.store import Store
from scrapejobs.worker import Worker
from tests.crawling import WaitingCrawler
from tests.factories import job_request

MINIMUM, MAXIMUM, JOBS = 1, 6, 60


async def test_the_pool_grows_with_waiting_jobs_within_its_bounds(store: Store) -> None:
    manager = JobManager(store)
    for n in range(JOBS):
        await manager.create_job(job_request(domain=f"s{n}.example"))
    crawler = WaitingCrawler(pause=0.15)  # I/O-bound: it only waits
    worker = Worker(
        manager,
        crawler,  # type: ignore[arg-type]
        concurrency=MAXIMUM,
        min_concurrency=MINIMUM,
        autoscale_interval=0.1,
        poll_interval=0.05,
    )
    targets: list[int] = []
    running = asyncio.create_task(worker.run())
    try:
        for _ in range(600):  # up to 30 s
            targets.append(worker.pool.target)
            counts = await manager.count_by_status(JobFilter())
            if counts[JobStatus.COMPLETED] == JOBS:
                break
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await running
    assert (await manager.count_by_status(JobFilter()))[JobStatus.COMPLETED] == JOBS
    assert targets[0] == MINIMUM and max(targets) > MINIMUM  # it grew, the jobs waiting
    assert all(MINIMUM <= target <= MAXIMUM for target in targets)
    assert 1 < crawler.most <= MAXIMUM  # never more crawls at once than the maximum
