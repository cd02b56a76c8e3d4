"""JobStore: every SQL statement scrapejobs runs, for SQLite and PostgreSQL.

One method per statement (or per transaction of statements). State changes
are conditional updates (``WHERE id = :id AND version = :version AND status =
:status``): zero rows updated means someone else changed the job first, and
the method returns None rather than pretending it succeeded. Each change
writes its event rows in the same transaction, so a job and its history never
disagree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scrapejobs.errors import StorageUnavailable
from scrapejobs.failures import ErrorType
from scrapejobs.jobs import EventKind, Job, JobEvent, JobStatus, JobType
from scrapejobs.stats import MIN_EVIDENCE, TOP, FailureTally, StatsCounts
from scrapejobs.storage.database import WRITE, make_engine
from scrapejobs.storage.tables import failure_counts, job_counts, job_events, jobs, pages

__all__ = ["JobFilter", "JobStore"]


@dataclass(frozen=True, slots=True)
class JobFilter:
    """The list and bulk-retry filters; None means "any"."""

    status: JobStatus | None = None
    domain: str | None = None
    job_type: JobType | None = None
    failure_pattern: str | None = None
    error_contains: str | None = None
    ids: tuple[str, ...] | None = None
    created_since: datetime | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses = self._keyed(jobs)
        if self.error_contains:
            pattern = "%" + _escape_like(self.error_contains) + "%"
            clauses.append(jobs.c.error_message.ilike(pattern, escape="\\"))
        if self.ids is not None:
            clauses.append(jobs.c.id.in_(self.ids))
        if self.created_since is not None:
            clauses.append(jobs.c.created_at >= self.created_since)
        return clauses

    def _keyed(self, table: sa.Table) -> list[sa.ColumnElement[bool]]:
        """The filters on the fields that ``jobs`` and ``job_counts`` both have."""
        clauses: list[sa.ColumnElement[bool]] = []
        if self.status is not None:
            clauses.append(table.c.status == self.status.value)
        if self.domain is not None:
            clauses.append(table.c.domain == self.domain)
        if self.job_type is not None:
            clauses.append(table.c.job_type == self.job_type.value)
        if self.failure_pattern is not None:
            clauses.append(table.c.failure_pattern == self.failure_pattern)
        return clauses

    def total(self) -> sa.Select[Any]:
        """How many jobs match: summed from ``job_counts`` when it keys on every filter.

        A sum over the running counts costs the same however many jobs match;
        a ``count(*)`` of the jobs grows with them. ``job_counts`` stores a
        missing pattern as '', so an empty pattern filter counts the rows too.
        """
        unkeyed = self.error_contains or self.ids is not None or self.created_since is not None
        if unkeyed or self.failure_pattern == "":
            return sa.select(sa.func.count()).select_from(jobs).where(*self.where())
        summed = sa.func.coalesce(sa.func.sum(job_counts.c.jobs), 0)
        return sa.select(summed).where(*self._keyed(job_counts))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _job_values(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "domain": job.domain,
        "job_type": job.job_type.value,
        "status": job.status.value,
        "priority": job.priority,
        "retry_count": job.retry_count,
        "max_retries": job.max_retries,
        "config": dict(job.config),
        "metadata": dict(job.metadata),
        "error_message": job.error_message,
        "failure_pattern": job.metadata.get("failurePattern"),
        "error_type": job.metadata.get("errorType"),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "scheduled_at": job.scheduled_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "attempts": job.attempts,
        "worker_id": job.worker_id,
        "lease_expires_at": job.lease_expires_at,
        "version": job.version,
    }


def _job(row: sa.Row[Any]) -> Job:
    m = row._mapping
    return Job(
        id=m["id"],
        domain=m["domain"],
        job_type=JobType(m["job_type"]),
        status=JobStatus(m["status"]),
        priority=m["priority"],
        retry_count=m["retry_count"],
        max_retries=m["max_retries"],
        config=m["config"],
        metadata=m["metadata"],
        error_message=m["error_message"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        scheduled_at=m["scheduled_at"],
        started_at=m["started_at"],
        completed_at=m["completed_at"],
        attempts=m["attempts"],
        worker_id=m["worker_id"],
        lease_expires_at=m["lease_expires_at"],
        version=m["version"],
    )


# Columns of job_events that are not fields of JobEvent.
_EVENT_ONLY_COLUMNS = ("id", "domain", "job_type", "job_created_at")


def _event(row: sa.Row[Any]) -> JobEvent:
    m = dict(row._mapping)
    for column in _EVENT_ONLY_COLUMNS:
        m.pop(column)
    m["event"] = EventKind(m["event"])
    m["from_status"] = JobStatus(m["from_status"]) if m["from_status"] else None
    m["to_status"] = JobStatus(m["to_status"]) if m["to_status"] else None
    return JobEvent(**m)


def _event_values(event: JobEvent, job: Job) -> dict[str, Any]:
    values = asdict(event)
    values["details"] = dict(event.details) if event.details is not None else None
    # Copies of the job's fixed dimensions, so that analytics filter without a join.
    return values | {
        "domain": job.domain,
        "job_type": job.job_type.value,
        "job_created_at": job.created_at,
    }


class JobStore:
    """The storage port of the job manager; the only class that knows SQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> JobStore:
        return cls(make_engine(url, **engine_options))

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _transaction(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                if write:
                    conn = await conn.execution_options(**{WRITE: True})
                async with conn.begin():
                    yield conn
        except sa.exc.IntegrityError:
            raise
        except (sa.exc.DBAPIError, sa.exc.TimeoutError, OSError) as exc:
            raise StorageUnavailable(
                "Database unavailable", f"{type(exc).__name__}: {exc}".splitlines()[0]
            ) from exc

    async def ping(self) -> None:
        """Reach the database and the jobs table (one index probe, not a count)."""
        async with self._transaction() as conn:
            await conn.execute(sa.select(jobs.c.id).limit(1))

    async def _add_events(
        self, conn: AsyncConnection, job: Job, events: Sequence[JobEvent]
    ) -> None:
        """Write events, and count the failed attempts and retries among them."""
        rows = [_event_values(event, job) for event in events]
        if rows:
            await conn.execute(job_events.insert(), rows)
        keys = [
            _failure_key(job, e.event, e.failure_pattern, e.error_type)
            for e in events
            if e.event.value in _FAILURE_EVENTS
        ]
        for key in sorted(keys):
            await self._count(conn, failure_counts, key, +1)

    async def _count(
        self, conn: AsyncConnection, table: sa.Table, key: tuple[Any, ...], delta: int
    ) -> None:
        """Add ``delta`` to one running count (``job_counts`` or ``failure_counts``)."""
        insert = postgresql.insert if self._postgres else sqlite.insert
        names = [column.name for column in table.primary_key.columns]
        counter = next(column for column in table.columns if not column.primary_key)
        row = dict(zip(names, key, strict=True)) | {counter.name: delta}
        statement = insert(table).values(row)
        await conn.execute(
            statement.on_conflict_do_update(index_elements=names, set_={counter: counter + delta})
        )

    async def _recount(self, conn: AsyncConnection, old: Job | None, new: Job | None) -> None:
        """Move a job between ``job_counts`` rows; in key order, so that writers never deadlock."""
        changes = {_job_key(old): -1} if old else {}
        if new:
            changes[_job_key(new)] = changes.get(_job_key(new), 0) + 1
        for key, delta in sorted(changes.items()):
            if delta:
                await self._count(conn, job_counts, key, delta)

    async def insert_job(
        self,
        job: Job,
        event: JobEvent,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> bool:
        """Insert a new job; False when ``idempotency_key`` is already taken."""
        values = _job_values(job) | {
            "idempotency_key": idempotency_key,
            "request_fingerprint": fingerprint,
        }
        try:
            async with self._transaction(write=True) as conn:
                await conn.execute(jobs.insert().values(values))
                await self._recount(conn, None, job)
                await self._add_events(conn, job, [event])
        except sa.exc.IntegrityError:
            if idempotency_key is None:
                raise
            return False
        return True

    async def job_by_idempotency_key(self, key: str) -> tuple[Job, str | None] | None:
        async with self._transaction() as conn:
            row = (await conn.execute(jobs.select().where(jobs.c.idempotency_key == key))).first()
        return (_job(row), row._mapping["request_fingerprint"]) if row else None

    async def get_job(self, job_id: str) -> Job | None:
        async with self._transaction() as conn:
            row = (await conn.execute(jobs.select().where(jobs.c.id == job_id))).first()
        return _job(row) if row else None

    async def list_jobs(
        self, query: JobFilter, *, limit: int, offset: int
    ) -> tuple[list[Job], int]:
        """A page of jobs, newest first, and the total that match."""
        where = query.where()
        page = (
            jobs.select()
            .where(*where)
            .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._transaction() as conn:
            rows = (await conn.execute(page)).all()
            total = (await conn.execute(query.total())).scalar_one()
        return [_job(row) for row in rows], int(total)

    async def events(self, job_id: str) -> list[JobEvent]:
        """A job's history, oldest first."""
        statement = job_events.select().where(job_events.c.job_id == job_id)
        async with self._transaction() as conn:
            rows = (await conn.execute(statement.order_by(job_events.c.id))).all()
        return [_event(row) for row in rows]

    async def save(self, old: Job, new: Job, events: Sequence[JobEvent] = ()) -> Job | None:
        """Write ``new`` over ``old`` if nobody changed it since ``old`` was read.

        Returns the stored job, or None when the conditional update matched
        no row (the job changed or vanished meanwhile); nothing is written then.
        """
        values = _job_values(new)
        del values["id"], values["created_at"]
        values["version"] = old.version + 1
        statement = (
            jobs.update()
            .where(
                jobs.c.id == old.id,
                jobs.c.version == old.version,
                jobs.c.status == old.status.value,
            )
            .values(values)
            .returning(*jobs.c)
        )
        async with self._transaction(write=True) as conn:
            row = (await conn.execute(statement)).first()
            if row is None:
                return None
            saved = _job(row)
            await self._recount(conn, old, saved)
            await self._add_events(conn, saved, events)
        return saved

    async def claim_next(
        self, worker_id: str, *, now: datetime, lease_until: datetime
    ) -> Job | None:
        """Take the next due pending job (priority, then oldest ``scheduled_at``).

        SQLite serialises writers (``BEGIN IMMEDIATE``); PostgreSQL skips
        rows that another claimer has locked. Either way one job goes to one
        worker.
        """
        candidate = (
            sa.select(jobs.c.id)
            .where(jobs.c.status == JobStatus.PENDING.value, jobs.c.scheduled_at <= now)
            .order_by(jobs.c.priority.desc(), jobs.c.scheduled_at, jobs.c.created_at)
            .limit(1)
        )
        if self._postgres:
            candidate = candidate.with_for_update(skip_locked=True)
        statement = (
            jobs.update()
            .where(
                jobs.c.id == candidate.scalar_subquery(),
                jobs.c.status == JobStatus.PENDING.value,
            )
            .values(
                status=JobStatus.RUNNING.value,
                attempts=jobs.c.attempts + 1,
                worker_id=worker_id,
                lease_expires_at=lease_until,
                started_at=now,
                updated_at=now,
                version=jobs.c.version + 1,
            )
            .returning(*jobs.c)
        )
        async with self._transaction(write=True) as conn:
            row = (await conn.execute(statement)).first()
            if row is None:
                return None
            job = _job(row)
            await self._recount(conn, replace(job, status=JobStatus.PENDING), job)
            started = JobEvent(
                job_id=job.id,
                at=now,
                event=EventKind.STARTED,
                actor=worker_id,
                retry_count=job.retry_count,
                from_status=JobStatus.PENDING,
                to_status=JobStatus.RUNNING,
                attempt=job.attempts,
            )
            await self._add_events(conn, job, [started])
        return job

    async def expired_leases(self, now: datetime, *, limit: int = 100) -> list[Job]:
        """Running jobs whose lease ran out before ``now``."""
        statement = (
            jobs.select()
            .where(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < now)
            .order_by(jobs.c.lease_expires_at)
            .limit(limit)
        )
        async with self._transaction() as conn:
            rows = (await conn.execute(statement)).all()
        return [_job(row) for row in rows]

    async def add_pages(
        self, job_id: str, worker_id: str, attempt: int, rows: Sequence[Mapping[str, Any]]
    ) -> bool:
        """Store pages of a running attempt; False (nothing stored) if the lease is gone."""
        holder = sa.select(jobs.c.id).where(
            jobs.c.id == job_id,
            jobs.c.status == JobStatus.RUNNING.value,
            jobs.c.worker_id == worker_id,
            jobs.c.attempts == attempt,
        )
        values = [{**row, "job_id": job_id, "attempt": attempt} for row in rows]
        async with self._transaction(write=True) as conn:
            if (await conn.execute(holder)).first() is None:
                return False
            if values:
                await conn.execute(pages.insert(), values)
        return True

    async def page_count(self, job_id: str, attempt: int) -> int:
        statement = (
            sa.select(sa.func.count())
            .select_from(pages)
            .where(pages.c.job_id == job_id, pages.c.attempt == attempt)
        )
        async with self._transaction() as conn:
            return int((await conn.execute(statement)).scalar_one())

    async def pages_after(
        self, job_id: str, attempt: int, after_id: int, *, limit: int
    ) -> list[dict[str, Any]]:
        """One chunk of an attempt's pages in crawl order (keyset pagination on ``id``)."""
        statement = (
            pages.select()
            .where(pages.c.job_id == job_id, pages.c.attempt == attempt, pages.c.id > after_id)
            .order_by(pages.c.id)
            .limit(limit)
        )
        async with self._transaction() as conn:
            rows = (await conn.execute(statement)).all()
        return [dict(row._mapping) for row in rows]

    async def stats_counts(self, scope: JobFilter) -> StatsCounts:
        """The counts behind the retry analytics (``scrapejobs.stats``), one query each.

        From the running counts, unless the scope starts at a moment (``since``),
        which they cannot tell: then from the jobs and events themselves.
        """
        src = COUNTS if scope.created_since is None else BASE
        on_jobs = _scope(scope, src.jobs, jobs.c.created_at)
        on_events = _scope(scope, src.events, src.created)
        async with self._transaction() as conn:
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

    async def recount(self) -> None:
        """Rebuild ``job_counts`` and ``failure_counts`` from the rows (after a bulk load)."""
        exhausted = sa.case((BASE.exhausted, 1), else_=0)
        job_keys = (
            jobs.c.domain,
            jobs.c.job_type,
            jobs.c.status,
            jobs.c.retry_count,
            sa.func.coalesce(jobs.c.error_type, ""),
            sa.func.coalesce(jobs.c.failure_pattern, ""),
            exhausted,
        )
        e = job_events.c
        event_keys = (
            e.domain,
            e.job_type,
            e.event,
            sa.func.coalesce(e.failure_pattern, ""),
            sa.func.coalesce(e.error_type, ""),
        )
        async with self._transaction(write=True) as conn:
            for table, keys, where in (
                (job_counts, job_keys, []),
                (failure_counts, event_keys, [e.event.in_(_FAILURE_EVENTS)]),
            ):
                counted = sa.select(*keys, sa.func.count()).where(*where).group_by(*keys)
                await conn.execute(table.delete())
                await conn.execute(table.insert().from_select(list(table.c), counted))

    async def shared_counts(self) -> tuple[dict[str, int], FailureTally]:
        """Jobs by status and the failure tally of all jobs (the database metrics)."""
        by_status = sa.select(job_counts.c.status, sa.func.sum(job_counts.c.jobs)).group_by(
            job_counts.c.status
        )
        async with self._transaction() as conn:
            statuses = (await conn.execute(by_status)).all()
            tally = await _failure_tally(conn, COUNTS, [])
        return {row[0]: int(row[1]) for row in statuses}, tally

    async def delete_job(self, job: Job) -> bool:
        """Delete ``job`` if it is unchanged since it was read; its events go with it."""
        statement = jobs.delete().where(jobs.c.id == job.id, jobs.c.version == job.version)
        failures = _failure_events(BASE, [job_events.c.job_id == job.id])
        async with self._transaction(write=True) as conn:
            counted = (await conn.execute(failures)).all()
            if (await conn.execute(statement)).rowcount != 1:
                return False
            await self._recount(conn, job, None)
            for event, pattern, error_type, events in sorted(counted):
                key = _failure_key(job, event, pattern, error_type)
                await self._count(conn, failure_counts, key, -events)
        return True


# -- the statements behind stats_counts -------------------------------------

Where = list[sa.ColumnElement[bool]]

_FAILURE_EVENTS = (EventKind.FAILED.value, EventKind.RETRIED.value)
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
BASE = _Source(
    jobs=jobs,
    jobs_weight=sa.literal_column("1"),
    exhausted=sa.and_(jobs.c.max_retries > 0, jobs.c.retry_count >= jobs.c.max_retries),
    events=job_events,
    events_weight=sa.literal_column("1"),
    created=job_events.c.job_created_at,
)


def _scope(scope: JobFilter, table: sa.Table, created: sa.ColumnElement[Any] | None) -> Where:
    """The analytics filters (domain, job type, created since) on one table."""
    clauses: Where = []
    if scope.domain is not None:
        clauses.append(table.c.domain == scope.domain)
    if scope.job_type is not None:
        clauses.append(table.c.job_type == scope.job_type.value)
    if scope.created_since is not None:
        assert created is not None, "running counts have no creation time"
        clauses.append(created >= scope.created_since)
    return clauses


def _job_key(job: Job) -> tuple[Any, ...]:
    """The ``job_counts`` row a job counts in (its primary key, in column order)."""
    exhausted = job.max_retries > 0 and job.retry_count >= job.max_retries
    return (
        job.domain,
        job.job_type.value,
        job.status.value,
        job.retry_count,
        job.metadata.get("errorType") or "",
        job.metadata.get("failurePattern") or "",
        int(exhausted),
    )


def _failure_key(
    job: Job, event: str, pattern: str | None, error_type: str | None
) -> tuple[str, ...]:
    """The ``failure_counts`` row a failed attempt or retry counts in."""
    return (job.domain, job.job_type.value, str(event), pattern or "", error_type or "")


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
    tables: dict[str, dict[tuple[str, str], int]] = {kind: {} for kind in _FAILURE_EVENTS}
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
        .where(t.c.event.in_([_inline(kind) for kind in _FAILURE_EVENTS]), *where)
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
    """Domains with at least MIN_EVIDENCE jobs whose latest failure was of one type."""
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
