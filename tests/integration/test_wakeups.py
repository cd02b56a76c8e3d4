"""Wake-ups (``storage/wakeups.py``): an idle worker claims a new job at once, not at its
next poll. Each waiting worker here polls once a minute, and the test gives up long
before that: only a wake-up can explain a claim."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from scrapejobs.failures import classify
from scrapejobs.jobs import JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.retry import RetryPolicy
from scrapejobs.storage import SqlStore
from scrapejobs.worker import Worker
from tests.conftest import _truncate
from tests.crawling import WaitingCrawler
from tests.factories import job_request

POLL = 60.0  # seconds: far longer than any wait below
PATIENCE = 15.0


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    """Two stores, two engines: two processes' view of one database."""
    first, second = SqlStore.from_url(database_url), SqlStore.from_url(database_url)
    yield first, second
    await first.close()
    await second.close()


async def completed(manager: JobManager, job_id: str) -> None:
    for _ in range(int(PATIENCE / 0.02)):
        if (await manager.get_job(job_id)).status is JobStatus.COMPLETED:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} not claimed within {PATIENCE} s")


async def test_an_idle_worker_claims_a_new_job_at_once(
    stores: tuple[SqlStore, SqlStore],
) -> None:
    manager = JobManager(stores[0])
    worker = Worker(manager, WaitingCrawler(), concurrency=2, poll_interval=POLL)  # type: ignore[arg-type]
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.3)  # the worker found nothing and waits
        for _ in range(3):  # again and again, each time from idle
            job, _ = await manager.create_job(job_request())
            await completed(manager, job.id)
    finally:
        worker.stop()
        await running


async def test_a_retry_wakes_a_worker(stores: tuple[SqlStore, SqlStore]) -> None:
    manager = JobManager(stores[0], RetryPolicy(delays=(0.0,), jitter=0.0))
    job, _ = await manager.create_job(job_request(config={"autoRetry": False}))
    claimed = await manager.claim_next("w0")
    assert claimed is not None
    failure = classify("HTTP 503")
    await manager.fail_attempt(job.id, failure, worker_id="w0", lease_token=claimed.lease_token)
    worker = Worker(manager, WaitingCrawler(), concurrency=1, poll_interval=POLL)  # type: ignore[arg-type]
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.3)
        await manager.retry_job(job.id)
        await completed(manager, job.id)
    finally:
        worker.stop()
        await running


async def test_postgresql_wakes_workers_of_other_processes(postgres_url: str) -> None:
    """NOTIFY, from the trigger of migration 0010. (SQLite has no notifications between
    processes: a worker of another process finds the job at its next poll.)"""
    await _truncate(postgres_url)
    here_store, there_store = SqlStore.from_url(postgres_url), SqlStore.from_url(postgres_url)
    here, there = JobManager(here_store), JobManager(there_store)
    woken = asyncio.Event()
    try:
        await here.watch_work(woken)
        await asyncio.sleep(0.1)
        assert not woken.is_set()
        await there.create_job(job_request())  # another engine: only NOTIFY reaches `here`
        await asyncio.wait_for(woken.wait(), PATIENCE)
    finally:
        here.unwatch_work(woken)
        await here_store.close()
        await there_store.close()
