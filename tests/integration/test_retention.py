"""Retention on SQLite and PostgreSQL: the scenarios of ``tests/unit/test_retention.py``,
the running counts exact after pruning, and pruners racing each other."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.retention import Retention
from scrapejobs.service import running_service
from scrapejobs.settings import Settings
from scrapejobs.storage import SqlStore
from tests.conftest import Clock
from tests.factories import failed_job, job_request
from tests.integration.test_api import JOBS, create, failed
from tests.unit.test_retention import *  # noqa: F403
from tests.unit.test_retention import DAY, completed_job


async def counted(store: SqlStore) -> tuple[dict[str, int], object, object]:
    """The running counts (a count row left at 0 is no job, as a recount has no row)."""
    by_status, tally = await store.shared_counts()
    nonzero = {status: jobs for status, jobs in by_status.items() if jobs}
    return nonzero, tally, await store.stats_counts(JobFilter())


async def test_the_running_counts_stay_exact(
    store: SqlStore, manager: JobManager, clock: Clock
) -> None:
    for n in range(12):
        domain = f"s{n % 3}.example"
        if n % 3 == 0:
            await completed_job(manager, domain=domain)
        elif n % 3 == 1:
            job = await failed_job(manager, "parser crashed", domain=domain, max_retries=2)
            await manager.retry_job(job.id)  # a retry and two failures counted, then failed again
            claimed = await manager.claim_next("w1")
            assert claimed is not None
            await manager.fail_attempt(
                claimed.id,
                job.failure,  # type: ignore[arg-type]
                worker_id="w1",
                lease_token=claimed.lease_token,
            )
        else:
            await failed_job(manager, "HTTP 404 Not Found", domain=domain)
        if n == 5:
            clock.advance(2 * DAY)  # the first six are old
    assert await manager.prune(Retention.parse("1d")) == 6
    after = await counted(store)
    await store.recount()  # the counts rebuilt from the rows that are left
    assert await counted(store) == after
    assert sum(after[0].values()) == 6


async def test_pruners_racing_delete_each_job_once(database_url: str) -> None:
    """Four processes' pruners at once (each its own engine): every old job is deleted
    exactly once, and the counts still agree with the rows."""
    clock = Clock()
    stores = [SqlStore.from_url(database_url) for _ in range(4)]
    managers = [JobManager(store, clock=clock) for store in stores]
    try:
        for n in range(240):
            job, _ = await managers[0].create_job(job_request(domain=f"s{n % 9}.example"))
            await managers[0].cancel_job(job.id)
        clock.advance(DAY + 1)
        retention = Retention.parse("1d")
        results = await asyncio.gather(*(m.prune(retention, batch=20) for m in managers))
        while (left := await managers[0].prune(retention, dry_run=True)) > 0:
            results.append(await managers[0].prune(retention))  # after a busy round
        assert sum(r or 0 for r in results) == 240 and left == 0
        after = await counted(stores[0])
        await stores[0].recount()
        assert await counted(stores[0]) == after
    finally:
        for store in stores:
            await store.close()


# -- the API, and the pruner of a running service ---------------------------------------


async def test_the_prune_endpoint(api: httpx.AsyncClient) -> None:
    job_id = await failed(api)
    kept = await create(api)
    refused = [
        {"olderThan": "soon"},
        {"olderThan": "0s"},
        {"olderThan": "1d", "status": ["running"]},
    ]
    refused += [{"olderThan": "1d", "dryrun": True}, {}]
    for body in refused:
        response = await api.post(f"{JOBS}/prune", json=body)
        assert response.status_code == 400, body
        assert response.json()["success"] is False
    # Nothing is a day old yet; after a second, "1s" finds the failed job.
    dry = await api.post(f"{JOBS}/prune", json={"olderThan": "1d", "dryRun": True})
    assert dry.status_code == 200
    assert dry.json()["data"] | {"before": None} == {
        "deleted": 0,
        "matched": 0,
        "before": None,
        "statuses": ["completed", "failed", "cancelled"],
        "dryRun": True,
    }
    await asyncio.sleep(1.1)
    done = await api.post(f"{JOBS}/prune", json={"olderThan": "1s", "status": ["failed"]})
    assert done.json()["data"]["deleted"] == 1, done.text
    assert done.json()["message"] == "Deleted 1 ended jobs unchanged for 1s"
    assert (await api.get(f"{JOBS}/{job_id}")).status_code == 404
    assert (await api.get(f"{JOBS}/{kept['id']}")).status_code == 200  # pending: kept


async def test_a_service_with_retention_prunes_on_its_own(database_url: str) -> None:
    settings = Settings(
        database_url=database_url, retention=timedelta(seconds=0.2), prune_interval=0.05
    )
    async with running_service(settings, workers=0) as manager:
        job, _ = await manager.create_job(job_request())
        await manager.cancel_job(job.id)
        pending, _ = await manager.create_job(job_request(domain="b.example"))
        for _ in range(200):  # polls for up to 10 s; the pruner runs every 0.05 s
            if (await manager.list_jobs(JobFilter()))[1] == 1:
                break
            await asyncio.sleep(0.05)
        found, total = await manager.list_jobs(JobFilter())
        assert total == 1 and found[0].id == pending.id
