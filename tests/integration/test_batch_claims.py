"""Batch claims (``JobManager.claim_jobs``): a claim takes at most its limit, and eight
processes claiming batches at once, each with its own engine, take every job once."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter

from scrapejobs.jobs import JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.storage import SqlStore
from tests.factories import job_request

PROCESSES = 8
JOBS = 240


async def test_a_claim_takes_at_most_its_limit(manager: JobManager) -> None:
    for n in range(20):
        await manager.create_job(job_request(domain=f"s{n}.example"))
    assert len(await manager.claim_jobs("w1", 1)) == 1
    batch = await manager.claim_jobs("w2", 5)
    assert len(batch) == 5 and {job.worker_id for job in batch} == {"w2"}
    assert (await manager.count_by_status(JobFilter()))[JobStatus.RUNNING] == 6
    assert len(await manager.claim_jobs("w3", 50)) == 14
    assert await manager.claim_jobs("w3", 50) == []


async def _drain(url: str, worker: str) -> list[str]:
    store = SqlStore.from_url(url)
    manager = JobManager(store)
    claimed: list[str] = []
    try:
        while batch := await manager.claim_jobs(worker, 7):
            claimed += [job.id for job in batch]
            for job in batch:
                token = job.lease_token
                await manager.complete_attempt(job.id, worker_id=worker, lease_token=token, job=job)
    finally:
        await store.close()
    return claimed


def _process(url: str, worker: str) -> list[str]:
    return asyncio.run(_drain(url, worker))


async def test_eight_processes_claim_batches_and_take_every_job_once(database_url: str) -> None:
    setup = SqlStore.from_url(database_url)
    manager = JobManager(setup)
    created = {
        (await manager.create_job(job_request(domain=f"s{n % 13}.example")))[0].id
        for n in range(JOBS)
    }
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        work = [(database_url, f"w{n}") for n in range(PROCESSES)]
        claimed = await asyncio.to_thread(pool.starmap, _process, work)
    try:
        taken = Counter(job_id for each in claimed for job_id in each)
        assert set(taken) == created and set(taken.values()) == {1}
        counts = await manager.count_by_status(JobFilter())
        assert counts[JobStatus.COMPLETED] == JOBS and counts[JobStatus.RUNNING] == 0
        assert sum(1 for each in claimed if each) > 1  # the processes really shared the work
    finally:
        await setup.close()
