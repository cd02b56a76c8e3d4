"""The statements behind the dashboard's activity (``scrapejobs.activity``), one query each.

Throughput and queue latency group the events of a window by time bucket in
the database. The bucket of an event is ``(epoch_seconds(at) - start) //
width``, with whole epoch seconds computed per dialect (:class:`EpochSeconds`:
SQLite keeps naive UTC text, PostgreSQL ``timestamptz``), so the SQL is the
same on both. Both filter on ``(event, at)``: ``ix_job_events_event_at``.
Percentiles are nearest-rank, from row numbers in each bucket (window
functions: SQLite 3.25+, PostgreSQL).

The running-now page reads the running jobs, and their attempts' page counts
in one grouped query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from scrapejobs.activity import PERCENTILES, THROUGHPUT_EVENTS, LatencySummary, Window
from scrapejobs.events import EventKind
from scrapejobs.jobs import Job, JobStatus
from scrapejobs.storage.rows import job_from_row
from scrapejobs.storage.tables import job_events, jobs, pages

__all__ = ["EpochSeconds", "event_counts", "page_counts", "queue_waits", "running_jobs"]


class EpochSeconds(FunctionElement[int]):
    """Whole seconds since 1970 (floored) of a ``UTCDateTime`` column."""

    type = sa.BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(EpochSeconds, "sqlite")
def _sqlite_epoch(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # strftime('%s') reads the stored naive UTC text and truncates the fraction.
    (column,) = element.clauses
    return compiler.process(
        sa.cast(sa.func.strftime(sa.literal_column("'%s'"), column), sa.BigInteger), **kw
    )


@compiles(EpochSeconds, "postgresql")
def _postgres_epoch(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return compiler.process(
        sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger), **kw
    )


def _int(value: int) -> sa.ColumnElement[int]:
    """An integer written into the SQL: the bucket expression is then the same text
    in SELECT and GROUP BY (PostgreSQL compares them as text, numbered bind
    parameters would differ)."""
    return sa.literal_column(str(int(value)), sa.BigInteger)


def _bucket(win: Window) -> sa.ColumnElement[int]:
    return (EpochSeconds(job_events.c.at) - _int(win.start_epoch)) // _int(win.width)


def _in_window(win: Window, *kinds: EventKind) -> list[sa.ColumnElement[bool]]:
    inline = [sa.literal(kind.value, literal_execute=True) for kind in kinds]
    return [job_events.c.event.in_(inline), job_events.c.at >= win.start, job_events.c.at < win.end]


async def event_counts(conn: AsyncConnection, win: Window) -> dict[tuple[EventKind, int], int]:
    """Completed, failed and retried events by (kind, bucket); empty buckets left out."""
    bucket = _bucket(win).label("bucket")
    statement = (
        sa.select(job_events.c.event, bucket, sa.func.count())
        .where(*_in_window(win, *THROUGHPUT_EVENTS))
        .group_by(job_events.c.event, bucket)
    )
    rows = (await conn.execute(statement)).all()
    return {(EventKind(kind), int(index)): int(n) for kind, index, n in rows}


async def queue_waits(conn: AsyncConnection, win: Window) -> dict[int, LatencySummary]:
    """Count, nearest-rank p50 and p95, and max of the waits of the attempts started
    in each bucket; buckets with none left out."""
    wait = job_events.c.queue_wait
    bucket = _bucket(win)
    ranked = (
        sa.select(
            bucket.label("bucket"),
            wait.label("wait"),
            sa.func.row_number().over(partition_by=bucket, order_by=wait).label("rank"),
            sa.func.count().over(partition_by=bucket).label("n"),
        )
        .where(*_in_window(win, EventKind.STARTED), wait.is_not(None))
        .subquery()
    )
    # The p-th percentile is the smallest wait whose rank r has 100 r >= p n.
    percentiles = [
        sa.func.min(sa.case((ranked.c.rank * 100 >= p * ranked.c.n, ranked.c.wait)))
        for p in PERCENTILES
    ]
    statement = sa.select(
        ranked.c.bucket, sa.func.count(), *percentiles, sa.func.max(ranked.c.wait)
    ).group_by(ranked.c.bucket)
    rows = (await conn.execute(statement)).all()
    return {
        int(index): LatencySummary(int(n), float(p50), float(p95), float(top))
        for index, n, p50, p95, top in rows
    }


async def running_jobs(conn: AsyncConnection, limit: int) -> list[Job]:
    """Running jobs, longest running first."""
    statement = (
        jobs.select()
        .where(jobs.c.status == JobStatus.RUNNING.value)
        .order_by(jobs.c.started_at, jobs.c.id)
        .limit(limit)
    )
    return [job_from_row(row) for row in (await conn.execute(statement)).all()]


async def page_counts(conn: AsyncConnection, attempts: Mapping[str, int]) -> dict[str, int]:
    """Pages stored by each job's attempt ``attempts[job_id]``, in one grouped query."""
    if not attempts:
        return {}
    pairs = sa.tuple_(pages.c.job_id, pages.c.attempt)
    statement = (
        sa.select(pages.c.job_id, sa.func.count())
        .where(pairs.in_(list(attempts.items())))
        .group_by(pages.c.job_id)
    )
    found = {job_id: int(n) for job_id, n in (await conn.execute(statement)).all()}
    return {job_id: found.get(job_id, 0) for job_id in attempts}
