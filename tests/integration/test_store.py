"""JobStore against real SQLite and PostgreSQL: schema, claim order, conditional writes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scrapejobs.errors import StorageUnavailable
from scrapejobs.jobs import EventKind, JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.storage import migrate
from scrapejobs.storage.store import JobFilter, JobStore
from scrapejobs.storage.tables import job_events, metadata
from tests.conftest import Clock
from tests.factories import failed_job, job_request, running_job


async def test_migrations_create_exactly_the_declared_schema(store: JobStore) -> None:
    """Tables, columns and index names; index expressions (priority DESC) are not comparable."""

    def diff(connection: sa.Connection) -> tuple[list[object], dict[str, set[str]]]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        changes = [
            change
            for change in compare_metadata(context, metadata)
            if not (isinstance(change, tuple) and change[0] in ("add_index", "remove_index"))
        ]
        inspector = sa.inspect(connection)
        indexes = {t: {i["name"] for i in inspector.get_indexes(t)} for t in metadata.tables}
        return changes, indexes

    async with store.engine.connect() as conn:
        changes, indexes = await conn.run_sync(diff)
    assert changes == []
    for name, table in metadata.tables.items():
        assert {index.name for index in table.indexes} <= indexes[name]
    assert await migrate.current_revision(store.engine) == migrate.head_revision()


async def test_upgrade_is_idempotent(store: JobStore) -> None:
    await migrate.upgrade(store.engine)
    await migrate.check_schema(store.engine)


async def test_claim_takes_highest_priority_then_oldest_due(
    manager: JobManager, clock: Clock
) -> None:
    low, _ = await manager.create_job(job_request(priority=3))
    clock.advance(1)
    high_new, _ = await manager.create_job(job_request(priority=9))
    clock.advance(1)
    high_newer, _ = await manager.create_job(job_request(priority=9))
    order = [await manager.claim_next(f"w{n}") for n in range(4)]
    assert [job.id if job else None for job in order] == [high_new.id, high_newer.id, low.id, None]


async def test_claim_skips_jobs_that_are_not_due(manager: JobManager, clock: Clock) -> None:
    job = await failed_job(manager)
    await manager.retry_job(job.id, delay_seconds=30)
    assert await manager.claim_next("w1") is None
    clock.advance(31)
    claimed = await manager.claim_next("w1")
    assert claimed is not None and claimed.id == job.id
    assert claimed.status is JobStatus.RUNNING and claimed.attempts == 2
    assert claimed.lease_expires_at == clock.now + timedelta(seconds=60)


async def test_save_is_conditional_on_the_version_read(
    manager: JobManager, store: JobStore
) -> None:
    job, _ = await manager.create_job(job_request())
    first = await store.save(job, replace(job, priority=9))
    stale = await store.save(job, replace(job, priority=1))
    assert first is not None and first.version == job.version + 1
    assert stale is None
    reread = await store.get_job(job.id)
    assert reread is not None and reread.priority == 9


async def test_every_transition_writes_an_event(manager: JobManager) -> None:
    job = await failed_job(manager)
    await manager.retry_job(job.id, actor="ops")
    events = await manager.get_events(job.id)
    kinds = [event.event for event in events]
    assert kinds == [EventKind.CREATED, EventKind.STARTED, EventKind.FAILED, EventKind.RETRIED]
    retried = events[-1]
    assert (retried.actor, retried.retry_count, retried.error_type, retried.error_message) == (
        "ops",
        1,
        "timeout",
        "Request timeout",
    )


async def test_delete_removes_the_history_too(manager: JobManager, store: JobStore) -> None:
    job = await failed_job(manager)
    await manager.delete_job(job.id)
    assert await store.get_job(job.id) is None
    assert await store.events(job.id) == []


async def test_list_filters_and_paginates_newest_first(manager: JobManager, clock: Clock) -> None:
    ids = []
    for n in range(5):
        clock.advance(1)
        job, _ = await manager.create_job(job_request(domain=f"site{n % 2}.com"))
        ids.append(job.id)
    page, total = await manager.list_jobs(JobFilter(domain="site0.com"), limit=2, offset=0)
    assert total == 3
    assert [job.id for job in page] == [ids[4], ids[2]]
    page, _ = await manager.list_jobs(JobFilter(domain="site0.com"), limit=2, offset=2)
    assert [job.id for job in page] == [ids[0]]


async def test_failure_pattern_filter_uses_the_stored_column(manager: JobManager) -> None:
    await failed_job(manager, "connect ECONNREFUSED", domain="a.com")
    job = await failed_job(manager, "HTTP 404 Not Found", domain="b.com")
    found, total = await manager.list_jobs(JobFilter(failure_pattern="content_missing"))
    assert total == 1 and found[0].id == job.id


async def test_error_contains_treats_like_wildcards_literally(manager: JobManager) -> None:
    await failed_job(manager, "timeout after 100% of budget", domain="a.com")
    await failed_job(manager, "timeout after 100 ms", domain="b.com")
    found, total = await manager.list_jobs(JobFilter(error_contains="100%"))
    assert total == 1 and found[0].domain == "a.com"


async def test_concurrent_claims_from_separate_connections_never_share_a_job(
    database_url: str,
) -> None:
    """8 workers, each with its own engine, drain 30 jobs: each claimed exactly once."""
    setup = JobStore.from_url(database_url)
    seeding = JobManager(setup)
    created = {(await seeding.create_job(job_request()))[0].id for _ in range(30)}
    await setup.close()

    async def worker(n: int) -> list[str]:
        own = JobStore.from_url(database_url)
        claimed = []
        try:
            while (job := await JobManager(own).claim_next(f"w{n}")) is not None:
                claimed.append(job.id)
        finally:
            await own.close()
        return claimed

    per_worker = await asyncio.gather(*(worker(n) for n in range(8)))
    claimed = [job_id for ids in per_worker for job_id in ids]
    assert sorted(claimed) == sorted(created)
    assert len(claimed) == len(set(claimed)) == 30


async def test_a_failed_write_leaves_nothing_behind(manager: JobManager, store: JobStore) -> None:
    """The job update and its event are one transaction: losing the event loses both."""
    job = await failed_job(manager)
    async with store.engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE job_events RENAME TO job_events_away"))
    try:
        with pytest.raises(StorageUnavailable):
            await manager.retry_job(job.id)
    finally:
        async with store.engine.begin() as conn:
            await conn.execute(sa.text("ALTER TABLE job_events_away RENAME TO job_events"))
    reread = await store.get_job(job.id)
    assert reread is not None
    assert (reread.status, reread.retry_count, reread.version) == (
        JobStatus.FAILED,
        0,
        job.version,
    )


async def test_running_job_factory_holds_a_lease(manager: JobManager) -> None:
    job = await running_job(manager, worker_id="w7")
    assert job.worker_id == "w7" and job.status is JobStatus.RUNNING


async def test_migration_0003_copies_job_fields_onto_existing_events(
    manager: JobManager, store: JobStore
) -> None:
    job = await failed_job(manager, domain="copies.example", job_type="page_scrape")

    def run(connection: sa.Connection, step: Callable[..., None], target: str) -> None:
        step(migrate._config(connection), target)

    async with store.engine.connect() as conn:
        await conn.run_sync(run, command.downgrade, "0002")
        await conn.run_sync(run, command.upgrade, "head")
        await conn.commit()

    async with store.engine.connect() as conn:
        copies = (
            await conn.execute(
                sa.select(job_events.c.domain, job_events.c.job_type, job_events.c.job_created_at)
                .where(job_events.c.job_id == job.id)
                .distinct()
            )
        ).all()
    assert copies == [("copies.example", "page_scrape", job.created_at)]
    assert len(await store.events(job.id)) == 3  # created, started, failed
