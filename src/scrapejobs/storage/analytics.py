"""The statements behind the retry analytics (``scrapejobs.stats``), one query each.

They count from the running counts (``job_counts``, ``failure_counts``),
unless the scope starts at a moment (``since``), which those cannot tell:
then from the jobs and events themselves. Both sources answer the same
statements; ``_Source`` says where the columns are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scrapejobs.events import EventKind
from scrapejobs.failures import ErrorType
from scrapejobs.jobs import JobStatus
from scrapejobs.queries import JobFilter
from scrapejobs.stats import MIN_EVIDENCE, TOP, FailureTally, StatsCounts
from scrapejobs.storage.counts import EXHAUSTED, FAILURE_EVENTS
from scrapejobs.storage.tables import failure_counts, job_counts, job_events, jobs

__all__ = ["shared_counts", "stats_counts"]

Where = list[sa.ColumnElement[bool]]

_DOMAIN_ERROR_TYPES = (
    ErrorType.RATE_LIMITED.value,
    ErrorType.FORBIDDEN.value,
    ErrorType.DNS_RESOLUTION.value,
    ErrorType.NOT_FOUND.value,
)


@dataclass(frozen=True)
class _Source:
    """Where the analytics count: the running counts, or the rows themselves.

    ``weight`` is how many jobs (events) one row stands for: its counter in
    ``job_counts`` / ``failure_counts``, 1 in ``jobs`` / ``job_events``.
    """

    jobs: sa.Table
    jobs_weight: sa.ColumnElement[Any]
    exhausted: sa.ColumnElement[bool]
    events: sa.Table
    events_weight: sa.ColumnElement[Any]
    created: sa.ColumnElement[Any] | None


COUNTS = _Source(
    jobs=job_counts,
    jobs_weight=job_counts.c.jobs,
    exhausted=job_counts.c.exhausted == 1,
    events=failure_counts,
    events_weight=failure_counts.c.events,
    created=None,
)
ROWS = _Source(
    jobs=jobs,
    jobs_weight=sa.literal_column("1"),
    exhausted=EXHAUSTED,
    events=job_events,
    events_weight=sa.literal_column("1"),
    created=job_events.c.job_created_at,
)


async def stats_counts(conn: AsyncConnection, scope: JobFilter) -> StatsCounts:
    src = COUNTS if scope.created_since is None else ROWS
    on_jobs = _scope(scope, src.jobs, jobs.c.created_at)
    on_events = _scope(scope, src.events, src.created)
    by_retries = (await conn.execute(_jobs_by_retries(src, on_jobs))).all()
    tally = await _failure_tally(conn, src, on_events)
    retried_domains = (await conn.execute(_retried_domains(src, on_jobs))).all()
    domain_errors = (await conn.execute(_domain_errors(src, on_jobs))).all()
    exhausted = (await conn.execute(_exhausted(src, on_jobs))).all()
    return StatsCounts(
        by_retries={(row[0], row[1]): int(row[2]) for row in by_retries if row[2]},
        tally=tally,
        retried_domains=[(row[0], int(row[1]), int(row[2])) for row in retried_domains],
        domain_errors=[(row[0], row[1], int(row[2])) for row in domain_errors],
        exhausted={row[0]: int(row[1]) for row in exhausted if row[1]},
    )


async def shared_counts(conn: AsyncConnection) -> tuple[dict[str, int], FailureTally]:
    by_status = sa.select(job_counts.c.status, sa.func.sum(job_counts.c.jobs)).group_by(
        job_counts.c.status
    )
    statuses = (await conn.execute(by_status)).all()
    tally = await _failure_tally(conn, COUNTS, [])
    return {row[0]: int(row[1]) for row in statuses}, tally


def _scope(scope: JobFilter, table: sa.Table, created: sa.ColumnElement[Any] | None) -> Where:
    """The analytics filters (domain, job type, created since) on one table."""
    clauses: Where = []
    if scope.domain is not None:
        clauses.append(table.c.domain.in_(scope.domains))
    if scope.job_type is not None:
        clauses.append(table.c.job_type == scope.job_type.value)
    if scope.created_since is not None:
        assert created is not None, "running counts have no creation time"
        clauses.append(created >= scope.created_since)
    return clauses


def _inline(value: Any) -> sa.BindParameter[Any]:
    """A constant written into the SQL, so the planners can match partial indexes."""
    return sa.literal(value, literal_execute=True)


def _jobs_by_retries(src: _Source, where: Where) -> sa.Select[Any]:
    t = src.jobs
    return (
        sa.select(t.c.retry_count, t.c.status, sa.func.sum(src.jobs_weight))
        .where(*where)
        .group_by(t.c.retry_count, t.c.status)
    )


async def _failure_tally(conn: AsyncConnection, src: _Source, where: Where) -> FailureTally:
    rows = (await conn.execute(_failure_events(src, where))).all()
    tables: dict[str, dict[tuple[str, str], int]] = {kind: {} for kind in FAILURE_EVENTS}
    unknown = ErrorType.UNKNOWN.value
    for event, pattern, error_type, count in rows:
        if not count:  # a running count that went back to zero
            continue
        key = (pattern or unknown, error_type or unknown)
        tables[event][key] = tables[event].get(key, 0) + int(count)
    return FailureTally(tables[EventKind.FAILED.value], tables[EventKind.RETRIED.value])


def _failure_events(src: _Source, where: Where) -> sa.Select[Any]:
    """Failed attempts and retries by (event, failurePattern, errorType)."""
    t = src.events
    columns = (t.c.event, t.c.failure_pattern, t.c.error_type)
    return (
        sa.select(*columns, sa.func.sum(src.events_weight))
        .where(t.c.event.in_([_inline(kind) for kind in FAILURE_EVENTS]), *where)
        .group_by(*columns)
    )


def _retried_domains(src: _Source, where: Where) -> sa.Select[Any]:
    t = src.jobs
    retries = sa.func.sum(t.c.retry_count * src.jobs_weight)
    return (
        sa.select(t.c.domain, retries, sa.func.sum(src.jobs_weight))
        .where(t.c.retry_count > _inline(0), *where)
        .group_by(t.c.domain)
        .having(retries > 0)
        .order_by(retries.desc(), t.c.domain)
        .limit(TOP)
    )


def _domain_errors(src: _Source, where: Where) -> sa.Select[Any]:
    """Domains with at least MIN_EVIDENCE jobs whose current failure is of one type."""
    t = src.jobs
    count = sa.func.sum(src.jobs_weight)
    return (
        sa.select(t.c.error_type, t.c.domain, count)
        .where(t.c.error_type.in_([_inline(e) for e in _DOMAIN_ERROR_TYPES]), *where)
        .group_by(t.c.error_type, t.c.domain)
        .having(count >= MIN_EVIDENCE)
        .order_by(count.desc(), t.c.domain)
        .limit(TOP * len(_DOMAIN_ERROR_TYPES))
    )


def _exhausted(src: _Source, where: Where) -> sa.Select[Any]:
    """Failed jobs that used all their retries, by failurePattern."""
    t = src.jobs
    return (
        sa.select(t.c.failure_pattern, sa.func.sum(src.jobs_weight))
        .where(t.c.status == _inline(JobStatus.FAILED.value), src.exhausted, *where)
        .group_by(t.c.failure_pattern)
    )
