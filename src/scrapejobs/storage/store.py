"""SqlStore: the :class:`~scrapejobs.store.Store` on SQLite and PostgreSQL.

One method per statement (or per transaction of statements); the statements
live by concern: jobs and claims here, running counts in ``counts``,
analytics in ``analytics``, pages in ``pages``, filters in ``filters``. State
changes are conditional updates (``WHERE id = :id AND version = :version AND
status = :status``): zero rows updated means someone else changed the job
first, and the method returns None rather than pretending it succeeded. Each
change writes its event rows and running counts in the same transaction, so
a job, its history and the counts never disagree.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scrapejobs.activity import LatencySummary, Window
from scrapejobs.errors import StorageUnavailable
from scrapejobs.events import EventKind, JobEvent
from scrapejobs.jobs import Job, JobStatus
from scrapejobs.leases import LEASE_TOKEN_LENGTH
from scrapejobs.queries import NEWEST_FIRST, JobFilter, JobOrder
from scrapejobs.sites import Site, SiteStatus
from scrapejobs.stats import FailureTally, StatsCounts
from scrapejobs.storage import activity, analytics, counts, filters, ordering, retention, statements
from scrapejobs.storage import pages as page_rows
from scrapejobs.storage import sites as site_rows
from scrapejobs.storage.audit import SqlAudit
from scrapejobs.storage.database import WRITE, make_engine
from scrapejobs.storage.keys import SqlKeys
from scrapejobs.storage.rows import event_from_row, event_values, job_from_row, job_values
from scrapejobs.storage.tables import job_events, jobs
from scrapejobs.storage.wakeups import Wakeups
from scrapejobs.storage.writers import SqliteWriters
from scrapejobs.transitions import started

__all__ = ["SqlStore"]

PROBE_RACES = 3
"""Claims tried again after losing a half-open site's probe to another claim."""


class _ProbeTaken(Exception):
    pass


class SqlStore:
    """The only class that talks to the database; see ``scrapejobs.store.Store``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite has one writer at a time. Writers take turns here (in this process,
        # then with other processes: storage/writers.py) instead of in SQLite's busy
        # handler, which sleeps 1, 2, 5... 100 ms between tries and lets one process
        # starve another. PostgreSQL's writers run side by side.
        self._writer = None if self._postgres else SqliteWriters(engine.url.database)
        self._wakeups = Wakeups(engine.url if self._postgres else None)
        self.api_keys = SqlKeys(self._transaction)
        self.audit = SqlAudit(self._transaction)

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> SqlStore:
        return cls(make_engine(url, **engine_options))

    async def close(self) -> None:
        await self._wakeups.close()
        await self.engine.dispose()
        if self._writer is not None:
            self._writer.close()

    async def watch_work(self, event: asyncio.Event) -> None:
        await self._wakeups.watch(event)

    def unwatch_work(self, event: asyncio.Event) -> None:
        self._wakeups.unwatch(event)

    @asynccontextmanager
    async def _transaction(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        turn = self._writer if write and self._writer is not None else contextlib.nullcontext()
        try:
            async with turn, self.engine.connect() as conn:
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
        if events:
            await conn.execute(job_events.insert(), [event_values(e, job) for e in events])
        await counts.add_events(conn, job, events)

    # -- jobs and claims -------------------------------------------------------

    async def insert_job(
        self,
        job: Job,
        event: JobEvent,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> bool:
        values = job_values(job) | {
            "idempotency_key": idempotency_key,
            "request_fingerprint": fingerprint,
        }
        try:
            async with self._transaction(write=True) as conn:
                await conn.execute(jobs.insert().values(values))
                await site_rows.ensure(conn, job.site, job.created_at)
                await counts.move_job(conn, None, job)
                await self._add_events(conn, job, [event])
        except sa.exc.IntegrityError:
            if idempotency_key is None:
                raise
            return False
        self._wakeups.notify()
        return True

    async def job_by_idempotency_key(self, key: str) -> tuple[Job, str | None] | None:
        async with self._transaction() as conn:
            row = (await conn.execute(jobs.select().where(jobs.c.idempotency_key == key))).first()
        return (job_from_row(row), row._mapping["request_fingerprint"]) if row else None

    async def get_job(self, job_id: str) -> Job | None:
        async with self._transaction() as conn:
            row = (await conn.execute(jobs.select().where(jobs.c.id == job_id))).first()
        return job_from_row(row) if row else None

    async def find_jobs(
        self, query: JobFilter, *, limit: int, offset: int = 0, order: JobOrder = NEWEST_FIRST
    ) -> list[Job]:
        statement = (
            jobs.select()
            .where(*filters.where(query))
            .order_by(*ordering.order_by(order, postgres=self._postgres))
            .limit(limit)
            .offset(offset)
        )
        async with self._transaction() as conn:
            rows = (await conn.execute(statement)).all()
        return [job_from_row(row) for row in rows]

    async def count_jobs(self, query: JobFilter) -> int:
        async with self._transaction() as conn:
            return int((await conn.execute(filters.total(query))).scalar_one())

    async def count_by_status(self, query: JobFilter) -> dict[JobStatus, int]:
        async with self._transaction() as conn:
            rows = (await conn.execute(filters.by_status(query))).all()
        found = {JobStatus(status): int(n) for status, n in rows}
        return {status: found.get(status, 0) for status in JobStatus}

    async def events(self, job_id: str) -> list[JobEvent]:
        statement = job_events.select().where(job_events.c.job_id == job_id)
        async with self._transaction() as conn:
            rows = (await conn.execute(statement.order_by(job_events.c.id))).all()
        return [event_from_row(row) for row in rows]

    async def save(
        self, old: Job, new: Job, events: Sequence[JobEvent] = (), *, site_answered: bool = False
    ) -> Job | None:
        values = {f"v_{k}": v for k, v in job_values(new).items() if k not in statements.NOT_SAVED}
        values |= {"v_version": old.version + 1, "old_id": old.id}
        values |= {"old_version": old.version, "old_status": old.status.value}
        async with self._transaction(write=True) as conn:
            row = (await conn.execute(statements.SAVE, values)).first()
            if row is None:
                return None
            saved = job_from_row(row)
            if saved.site != old.site:  # its startUrl moved to another host
                await site_rows.ensure(conn, saved.site, saved.updated_at)
            if site_answered and (row.site_failing or saved.site != old.site):
                await site_rows.answered(conn, old.site, saved.updated_at)
            await counts.move_job(conn, old, saved)
            await self._add_events(conn, saved, events)
        if saved.status is JobStatus.PENDING:
            self._wakeups.notify()
        return saved

    async def claim_jobs(
        self, worker_id: str, *, now: datetime, lease_until: datetime, lease_tokens: Sequence[str]
    ) -> list[Job]:
        """Up to one due job per lease token, in one statement. SQLite serialises writers
        (``BEGIN IMMEDIATE``); PostgreSQL skips rows that another claimer has
        locked. Either way one job goes to one worker, and a half-open site's
        probe to one claim: a batch that holds more than one job of such a site
        is rolled back and claimed one by one instead."""
        assert all(len(token) == LEASE_TOKEN_LENGTH for token in lease_tokens)
        params = {"claimer": worker_id, "now": now, "lease_until": lease_until}
        params |= {"lease_tokens": "".join(lease_tokens)}
        limit = len(lease_tokens)
        for _ in range(PROBE_RACES):
            try:
                async with self._transaction(write=True) as conn:
                    statement = statements.CLAIM[self._postgres]
                    rows = (await conn.execute(statement, params | {"limit": limit})).all()
                    claimed = [job_from_row(row) for row in rows]
                    probes = [job for job, row in zip(claimed, rows, strict=True) if row.half_open]
                    if len({job.site for job in probes}) < len(probes):
                        limit = 1  # two probes of one site: one job at a time
                        raise _ProbeTaken
                    for job in probes:
                        if not await site_rows.take_probe(conn, job.site, job.id, lease_until, now):
                            raise _ProbeTaken  # roll the claim back; the site is skipped now
                    moves = [(replace(job, status=JobStatus.PENDING), job) for job in claimed]
                    await counts.move_jobs(conn, moves)
                    if claimed:
                        events = [event_values(started(job), job) for job in claimed]
                        await conn.execute(job_events.insert(), events)
            except _ProbeTaken:
                continue
            return claimed
        return []

    async def expired_leases(self, now: datetime, *, limit: int = 100) -> list[Job]:
        statement = (
            jobs.select()
            .where(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_expires_at < now)
            .order_by(jobs.c.lease_expires_at)
            .limit(limit)
        )
        async with self._transaction() as conn:
            rows = (await conn.execute(statement)).all()
        return [job_from_row(row) for row in rows]

    async def delete_job(self, job: Job) -> bool:
        statement = jobs.delete().where(jobs.c.id == job.id, jobs.c.version == job.version)
        async with self._transaction(write=True) as conn:
            tallied = await counts.failures_of(conn, job)  # read before the cascade
            if (await conn.execute(statement)).rowcount != 1:
                return False
            await counts.forget_job(conn, job, tallied)
        return True

    async def count_prunable(self, statuses: Sequence[JobStatus], before: datetime) -> int:
        async with self._transaction() as conn:
            return await retention.count_prunable(conn, statuses, before)

    async def prune_jobs(
        self, statuses: Sequence[JobStatus], before: datetime, *, limit: int
    ) -> int | None:
        async with self._transaction(write=True) as conn:
            return await retention.prune_batch(conn, statuses, before, limit=limit)

    # -- sites -------------------------------------------------------------------

    async def get_site(self, site: str) -> Site | None:
        async with self._transaction() as conn:
            return await site_rows.get(conn, site)

    async def list_sites(
        self, *, status: SiteStatus | None, now: datetime, limit: int, offset: int = 0
    ) -> tuple[list[Site], int]:
        async with self._transaction() as conn:
            return await site_rows.listing(conn, status, now, limit, offset)

    async def update_site(self, site: str, change: Callable[[Site], Site], now: datetime) -> Site:
        async with self._transaction(write=True) as conn:
            return await site_rows.update(conn, site, change, now)

    async def count_sites(self, now: datetime) -> dict[SiteStatus, int]:
        async with self._transaction() as conn:
            return await site_rows.by_state(conn, now)

    async def sync_site_members(
        self, worker_id: str, rates: Mapping[str, float], until: datetime, now: datetime
    ) -> dict[str, tuple[Site | None, dict[str, float]]]:
        if not rates:
            return {}
        async with self._transaction(write=True) as conn:
            return await site_rows.sync_members(conn, worker_id, rates, until, now)

    async def leave_sites(self, worker_id: str, names: Sequence[str] = ()) -> None:
        async with self._transaction(write=True) as conn:
            await site_rows.leave(conn, worker_id, names)

    async def site_counts(
        self, names: Sequence[str], now: datetime
    ) -> tuple[dict[str, dict[JobStatus, int]], dict[str, int]]:
        async with self._transaction() as conn:
            jobs_of = await site_rows.job_counts(conn, names)
            return jobs_of, await site_rows.member_counts(conn, names, now)

    # -- pages -------------------------------------------------------------------

    async def add_pages(
        self, job_id: str, worker_id: str, attempt: int, rows: Sequence[Mapping[str, Any]]
    ) -> bool:
        async with self._transaction(write=True) as conn:
            return await page_rows.add_pages(conn, job_id, worker_id, attempt, rows)

    async def page_count(self, job_id: str, attempt: int) -> int:
        async with self._transaction() as conn:
            return await page_rows.page_count(conn, job_id, attempt)

    async def pages_after(
        self, job_id: str, attempt: int, after_id: int, *, limit: int
    ) -> list[dict[str, Any]]:
        async with self._transaction() as conn:
            return await page_rows.pages_after(conn, job_id, attempt, after_id, limit)

    # -- analytics and maintenance ------------------------------------------------

    async def stats_counts(self, scope: JobFilter) -> StatsCounts:
        async with self._transaction() as conn:
            return await analytics.stats_counts(conn, scope)

    async def shared_counts(self) -> tuple[dict[str, int], FailureTally]:
        async with self._transaction() as conn:
            return await analytics.shared_counts(conn)

    async def event_counts(self, window: Window) -> dict[tuple[EventKind, int], int]:
        async with self._transaction() as conn:
            return await activity.event_counts(conn, window)

    async def queue_waits(self, window: Window) -> dict[int, LatencySummary]:
        async with self._transaction() as conn:
            return await activity.queue_waits(conn, window)

    async def running_jobs(self, *, limit: int) -> list[Job]:
        async with self._transaction() as conn:
            return await activity.running_jobs(conn, limit)

    async def page_counts(self, attempts: Mapping[str, int]) -> dict[str, int]:
        async with self._transaction() as conn:
            return await activity.page_counts(conn, attempts)

    async def recount(self) -> None:
        """Rebuild the running counts from the rows (after a bulk load)."""
        async with self._transaction(write=True) as conn:
            await counts.recount(conn)
