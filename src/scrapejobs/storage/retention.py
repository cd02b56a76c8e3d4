"""Pruning old ended jobs (``scrapejobs.retention``) in SQL, a batch per transaction.

Each batch picks up to ``limit`` jobs, takes them out of the running counts
and deletes them (their events and pages go with them: ``ON DELETE
CASCADE``), in one transaction. On PostgreSQL the batch first takes a
transaction-level advisory lock, so that two servers never prune at once (the
second finds the lock taken and does nothing this time); SQLite has one
writer at a time anyway. The rows picked are locked (PostgreSQL) or the
database is (SQLite ``BEGIN IMMEDIATE``), so a job cannot be retried between
being picked and being deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scrapejobs.jobs import JobStatus
from scrapejobs.storage import counts
from scrapejobs.storage.tables import jobs

__all__ = ["PRUNE_LOCK", "count_prunable", "prune_batch"]

PRUNE_LOCK = 0x5C4A_9B0B
"""The advisory lock key (PostgreSQL) held by the transaction that prunes."""


def _prunable(statuses: Sequence[JobStatus], before: datetime) -> list[sa.ColumnElement[bool]]:
    return [jobs.c.status.in_([s.value for s in statuses]), jobs.c.updated_at < before]


async def count_prunable(
    conn: AsyncConnection, statuses: Sequence[JobStatus], before: datetime
) -> int:
    statement = sa.select(sa.func.count()).select_from(jobs).where(*_prunable(statuses, before))
    return int((await conn.execute(statement)).scalar_one())


async def prune_batch(
    conn: AsyncConnection, statuses: Sequence[JobStatus], before: datetime, *, limit: int
) -> int | None:
    """Delete up to ``limit`` prunable jobs; None when another transaction is pruning."""
    if conn.dialect.name == "postgresql":
        locked = sa.select(sa.func.pg_try_advisory_xact_lock(PRUNE_LOCK))
        if not (await conn.execute(locked)).scalar_one():
            return None
    picked: sa.Select[Any] = (
        sa.select(jobs.c.id)
        .where(*_prunable(statuses, before))
        .order_by(jobs.c.updated_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    ids = list((await conn.execute(picked)).scalars())
    if ids:
        await counts.forget_jobs(conn, ids)
        await conn.execute(jobs.delete().where(jobs.c.id.in_(ids)))
    return len(ids)
