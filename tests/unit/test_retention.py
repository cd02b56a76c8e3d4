"""Retention (``scrapejobs.retention``, ``JobManager.prune``): which jobs go, which stay.

Run on the in-memory store here and on SQLite and PostgreSQL through
``tests/integration/test_retention.py``, which also checks the running counts.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from scrapejobs.errors import InvalidRequest, JobNotFound
from scrapejobs.jobs import JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.retention import ENDED, Retention, parse_duration
from tests.conftest import Clock
from tests.factories import complete_running, failed_job, job_request, running_job

DAY = 86_400


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("24h", DAY), ("7d", 7 * DAY), ("2w", 14 * DAY)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "d", "30 days", "-1d", "1y"])
def test_a_retention_that_is_not_a_duration_is_refused(text: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        Retention.parse(text)
    assert refused.value.message == "Invalid retention"


def test_only_ended_jobs_are_pruned() -> None:
    assert Retention.parse("1d").statuses == ENDED
    assert Retention.parse("1d", (JobStatus.FAILED,)).statuses == (JobStatus.FAILED,)
    with pytest.raises(InvalidRequest):
        Retention.parse("1d", (JobStatus.RUNNING,))


async def completed_job(manager: JobManager, **fields: object) -> str:
    job = await running_job(manager, **fields)
    await complete_running(manager, job.id, worker_id="w1")
    return job.id


async def test_prune_deletes_the_old_ended_jobs_and_nothing_else(
    manager: JobManager, clock: Clock
) -> None:
    old_done = await completed_job(manager)
    old_failed = (await failed_job(manager, domain="a.example")).id
    old_running = await running_job(manager, domain="c.example", worker_id="w2")
    old_pending, _ = await manager.create_job(job_request(domain="b.example", priority=1))
    clock.advance(2 * DAY)
    recent_done = await completed_job(manager, domain="d.example")

    retention = Retention.parse("1d")
    assert await manager.prune(retention, dry_run=True) == 2
    assert await manager.get_job(old_done)  # a dry run deletes nothing
    assert await manager.prune(retention) == 2
    for gone in (old_done, old_failed):
        with pytest.raises(JobNotFound):
            await manager.get_job(gone)
        assert await manager.get_attempts(gone) == []
    for kept in (old_pending.id, old_running.id, recent_done):
        assert (await manager.get_job(kept)).id == kept
    assert await manager.prune(retention) == 0


async def test_prune_by_status(manager: JobManager, clock: Clock) -> None:
    done = await completed_job(manager)
    failed = (await failed_job(manager)).id
    clock.advance(DAY + 1)
    assert await manager.prune(Retention.parse("1d", (JobStatus.FAILED,))) == 1
    assert (await manager.get_job(done)).status is JobStatus.COMPLETED
    with pytest.raises(JobNotFound):
        await manager.get_job(failed)


async def test_age_counts_from_the_last_change(manager: JobManager, clock: Clock) -> None:
    """A failed job retried yesterday is not old, however long ago it was created."""
    job = await failed_job(manager)
    clock.advance(3 * DAY)
    await manager.retry_job(job.id)
    await manager.cancel_job(job.id)
    clock.advance(DAY / 2)
    assert await manager.prune(Retention.parse("1d")) == 0
    clock.advance(DAY)
    assert await manager.prune(Retention.parse("1d")) == 1


async def test_prune_goes_batch_by_batch(manager: JobManager, clock: Clock) -> None:
    for n in range(23):
        job, _ = await manager.create_job(job_request(domain=f"s{n % 7}.example"))
        await manager.cancel_job(job.id)
    clock.advance(DAY + 1)
    assert await manager.prune(Retention.parse("1d"), batch=10) == 23
    _, total = await manager.list_jobs(JobFilter())
    assert total == 0
