"""SqlStore against real SQLite and PostgreSQL: schema, migrations, concurrent claims, faults.

The store contract that every store keeps (claim order, conditional saves,
events) is tested through the manager in ``tests/unit/test_manager.py``,
which ``tests/integration/test_manager.py`` runs here too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scrapejobs.errors import StorageUnavailable
from scrapejobs.failures import ErrorType, Failure, FailurePattern
from scrapejobs.jobs import JobStatus, LastRetry
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.storage import SqlStore, migrate
from scrapejobs.storage.tables import job_events, metadata
from tests.conftest import Clock
from tests.factories import failed_job, job_request


async def test_migrations_create_exactly_the_declared_schema(store: SqlStore) -> None:
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


async def test_upgrade_is_idempotent(store: SqlStore) -> None:
    await migrate.upgrade(store.engine)
    await migrate.check_schema(store.engine)


async def test_concurrent_claims_from_separate_connections_never_share_a_job(
    database_url: str,
) -> None:
    """8 workers, each with its own engine, drain 30 jobs: each claimed exactly once."""
    setup = SqlStore.from_url(database_url)
    seeding = JobManager(setup)
    created = {(await seeding.create_job(job_request()))[0].id for _ in range(30)}
    await setup.close()

    async def worker(n: int) -> list[str]:
        own = SqlStore.from_url(database_url)
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


async def test_a_failed_write_leaves_nothing_behind(manager: JobManager, store: SqlStore) -> None:
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


def _step(connection: sa.Connection, step: Callable[..., None], target: str) -> None:
    step(migrate._config(connection), target)


async def _migrate_to(store: SqlStore, *targets: str) -> None:
    """Downgrade or upgrade the schema through ``targets`` (revisions, or "head")."""
    async with store.engine.connect() as conn:
        for target in targets:
            current = await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
            upgrading = target == "head" or target > (current or "")
            step = command.upgrade if upgrading else command.downgrade
            await conn.run_sync(_step, step, target)
        await conn.commit()


async def test_migration_0003_copies_job_fields_onto_existing_events(
    manager: JobManager, store: SqlStore
) -> None:
    job = await failed_job(manager, domain="copies.example", job_type="page_scrape")
    await _migrate_to(store, "0002", "head")

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


async def _old_metadata(store: SqlStore, job_id: str) -> dict[str, Any]:
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(sa.text("SELECT metadata FROM jobs WHERE id = :id"), {"id": job_id})
        ).one()
    value = row[0]
    return json.loads(value) if isinstance(value, str) else dict(value)


async def _set_old_metadata(store: SqlStore, job_id: str, values: dict[str, Any]) -> None:
    """Write keys into metadata at revision 0003, as a user's PATCH could then."""
    merged = await _old_metadata(store, job_id) | values
    cast = "CAST(:m AS JSONB)" if store.engine.dialect.name == "postgresql" else ":m"
    copies = ", error_type = :e" if "errorType" in values else ""
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.text(f"UPDATE jobs SET metadata = {cast}{copies} WHERE id = :id"),
            {"m": json.dumps(merged), "e": values.get("errorType"), "id": job_id},
        )


async def test_migration_0004_moves_the_system_facts_out_of_metadata(
    manager: JobManager, store: SqlStore, clock: Clock
) -> None:
    """Jobs written at 0003 come back typed, from what the system itself recorded."""
    edited = await failed_job(manager, "Request timeout")
    recovered = await failed_job(manager, "HTTP 503", domain="recovered.example")
    await manager.retry_job(recovered.id)
    claimed = await manager.claim_next("w1")
    assert claimed is not None
    await manager.complete_attempt(recovered.id, worker_id="w1", lease_token=claimed.lease_token)
    pending = await failed_job(manager, "Request timeout")
    await manager.retry_job(pending.id, actor="ops")
    never_ran, _ = await manager.create_job(job_request(metadata={"team": "a"}))
    clock.advance(1)

    await _migrate_to(store, "0003")
    # 0004's downgrade put the facts back where 0003 kept them.
    old = await _old_metadata(store, pending.id)
    assert (old["errorType"], old["retriedBy"], old["lastError"]) == (
        "timeout",
        "ops",
        "Request timeout",
    )
    # What users could do at 0003: set the system's keys themselves.
    await _set_old_metadata(store, never_ran.id, {"failurePattern": "rate_limiting"})
    await _set_old_metadata(store, edited.id, {"errorType": "forbidden"})
    await _migrate_to(store, "head")

    never = await store.get_job(never_ran.id)
    assert never is not None and never.failure is None and never.last_retry is None
    assert never.metadata == {"source": "api", "team": "a"}
    failed = await store.get_job(edited.id)
    assert failed is not None and failed.failure == Failure(ErrorType.TIMEOUT, "Request timeout")
    assert failed.no_retry_reason == "Automatic retry is off for this job"
    assert failed.metadata == {"source": "api"}
    waiting = await store.get_job(pending.id)
    assert waiting is not None and waiting.status is JobStatus.PENDING
    assert waiting.failure == Failure(ErrorType.TIMEOUT, "Request timeout")
    retried_at = clock.now - timedelta(seconds=1)
    reason = "Manual retry after timeout error"
    assert waiting.last_retry == LastRetry(reason, "Request timeout", retried_at, "ops")
    done = await store.get_job(recovered.id)
    assert done is not None and done.status is JobStatus.COMPLETED and done.failure is None
    assert done.last_retry is not None and done.last_retry.last_error == "HTTP 503"
    pattern = JobFilter(failure_pattern=FailurePattern.RATE_LIMITING)
    assert await store.count_jobs(pattern) == 0
    assert await store.find_jobs(pattern, limit=10) == []
    # The running counts the migration rebuilt are the ones a recount gives.
    migrated = await store.shared_counts(), await store.stats_counts(JobFilter())
    await store.recount()
    assert (await store.shared_counts(), await store.stats_counts(JobFilter())) == migrated
