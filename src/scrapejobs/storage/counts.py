"""The running counts behind the analytics: ``job_counts`` and ``failure_counts``.

The store calls these inside the transaction of every change they count, so
the counts are exact whenever a transaction commits. Rows are touched in key
order, so concurrent writers never deadlock on them. ``''`` stands for "none"
in key columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from scrapejobs.events import EventKind, JobEvent
from scrapejobs.jobs import Job
from scrapejobs.storage.tables import failure_counts, job_counts, job_events, jobs

__all__ = [
    "EXHAUSTED",
    "FAILURE_EVENTS",
    "add_events",
    "failures_of",
    "forget_job",
    "forget_jobs",
    "move_job",
    "move_jobs",
    "recount",
]

FAILURE_EVENTS = (EventKind.FAILED.value, EventKind.RETRIED.value)
EXHAUSTED = jobs.c.retry_count >= jobs.c.max_retries
"""``Job.retries_exhausted`` in SQL, for the rows of ``jobs``."""


def _job_key(job: Job) -> tuple[Any, ...]:
    """The ``job_counts`` row a job counts in (its primary key, in column order)."""
    failure = job.failure
    return (
        job.domain,
        job.job_type.value,
        job.status.value,
        job.retry_count,
        failure.error_type.value if failure else "",
        failure.pattern.value if failure else "",
        int(job.retries_exhausted),
    )


def _failure_key(
    job: Job, event: str, pattern: str | None, error_type: str | None
) -> tuple[str, ...]:
    """The ``failure_counts`` row a failed attempt or retry counts in."""
    return (job.domain, job.job_type.value, str(event), pattern or "", error_type or "")


def _upsert(dialect: str, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` for one table."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    counter = next(column for column in table.columns if not column.primary_key)
    return insert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={counter: counter + insert.excluded[counter.name]},
    )


_UPSERTS = {
    (dialect, table.name): _upsert(dialect, table)
    for dialect in ("sqlite", "postgresql")
    for table in (job_counts, failure_counts)
}
"""Built once: a count move binds its rows and sends."""


async def _add(
    conn: AsyncConnection, table: sa.Table, deltas: Sequence[tuple[tuple[Any, ...], int]]
) -> None:
    """Add each ``(key, delta)`` to its running count: one statement for them all, the
    rows in key order (so that concurrent writers never deadlock on them)."""
    names = [column.name for column in table.primary_key.columns]
    counter = next(column.name for column in table.columns if not column.primary_key)
    rows = [
        dict(zip(names, key, strict=True)) | {counter: delta}
        for key, delta in sorted(deltas)
        if delta
    ]
    if rows:
        await conn.execute(_UPSERTS[(conn.dialect.name, table.name)], rows)


async def move_job(conn: AsyncConnection, old: Job | None, new: Job | None) -> None:
    """Move a job between ``job_counts`` rows (None: it is created, or deleted)."""
    await move_jobs(conn, [(old, new)])


async def move_jobs(conn: AsyncConnection, moves: Sequence[tuple[Job | None, Job | None]]) -> None:
    """Move each ``(old, new)`` job between ``job_counts`` rows, in one statement."""
    changes: dict[tuple[Any, ...], int] = {}
    for old, new in moves:
        for job, delta in ((old, -1), (new, +1)):
            if job is not None:
                changes[_job_key(job)] = changes.get(_job_key(job), 0) + delta
    await _add(conn, job_counts, list(changes.items()))


async def add_events(conn: AsyncConnection, job: Job, events: Sequence[JobEvent]) -> None:
    """Count the failed attempts and retries among ``events``."""
    keys = [
        _failure_key(job, e.event, e.failure_pattern, e.error_type)
        for e in events
        if e.event.value in FAILURE_EVENTS
    ]
    await _add(conn, failure_counts, [(key, +1) for key in keys])


Tallied = list[tuple[str, str | None, str | None, int]]


async def failures_of(conn: AsyncConnection, job: Job) -> Tallied:
    """The job's failed attempts and retries by (event, pattern, error type), as counted."""
    e = job_events.c
    columns = (e.event, e.failure_pattern, e.error_type)
    statement = (
        sa.select(*columns, sa.func.count())
        .where(e.job_id == job.id, e.event.in_(FAILURE_EVENTS))
        .group_by(*columns)
    )
    return [(row[0], row[1], row[2], int(row[3])) for row in await conn.execute(statement)]


async def forget_job(conn: AsyncConnection, job: Job, tallied: Tallied) -> None:
    """Take a deleted job, and its ``tallied`` failures and retries, out of the counts."""
    await move_job(conn, job, None)
    await _add(conn, failure_counts, [(_failure_key(job, *row[:3]), -row[3]) for row in tallied])


def _job_columns() -> tuple[sa.ColumnElement[Any], ...]:
    """``_job_key`` in SQL, for the rows of ``jobs``."""
    return (
        jobs.c.domain,
        jobs.c.job_type,
        jobs.c.status,
        jobs.c.retry_count,
        sa.func.coalesce(jobs.c.error_type, ""),
        sa.func.coalesce(jobs.c.failure_pattern, ""),
        sa.case((EXHAUSTED, 1), else_=0),
    )


def _event_columns() -> tuple[sa.ColumnElement[Any], ...]:
    """``_failure_key`` in SQL, for the rows of ``job_events``."""
    e = job_events.c
    return (
        e.domain,
        e.job_type,
        e.event,
        sa.func.coalesce(e.failure_pattern, ""),
        sa.func.coalesce(e.error_type, ""),
    )


async def forget_jobs(conn: AsyncConnection, ids: Sequence[str]) -> None:
    """Take the jobs ``ids`` (about to be deleted), and their failures and retries,
    out of the counts: one grouped read of each table, one upsert per key."""
    keys = _job_columns()
    grouped = sa.select(*keys, sa.func.count()).where(jobs.c.id.in_(ids)).group_by(*keys)
    changes = [(job_counts, tuple(row[:-1]), -row[-1]) for row in await conn.execute(grouped)]
    keys = _event_columns()
    on_events = (job_events.c.job_id.in_(ids), job_events.c.event.in_(FAILURE_EVENTS))
    grouped = sa.select(*keys, sa.func.count()).where(*on_events).group_by(*keys)
    changes += [(failure_counts, tuple(row[:-1]), -row[-1]) for row in await conn.execute(grouped)]
    for table in (job_counts, failure_counts):
        await _add(conn, table, [(key, delta) for t, key, delta in changes if t is table])


async def recount(conn: AsyncConnection) -> None:
    """Rebuild both tables from the rows (after a bulk load, or a migration)."""
    for table, keys, filters in (
        (job_counts, _job_columns(), []),
        (failure_counts, _event_columns(), [job_events.c.event.in_(FAILURE_EVENTS)]),
    ):
        counted = sa.select(*keys, sa.func.count()).where(*filters).group_by(*keys)
        await conn.execute(table.delete())
        await conn.execute(table.insert().from_select(list(table.c), counted))
