"""The storage port: what the job manager needs from a store, as a Protocol.

Two stores implement it: ``storage.SqlStore`` (SQLite and PostgreSQL, the
product) and ``storage.memory.MemoryStore`` (dicts, for fast tests of the
manager's rules). The contract both keep:

- ``save`` and ``delete_job`` are conditional on the job's ``version`` and
  ``status`` as read: when someone changed the job meanwhile they write
  nothing and say so (None / False); a caller reads again and decides again.
- A change and its events are written together or not at all.
- ``claim_jobs`` gives each due job to exactly one caller.
- Faults of the database surface as ``StorageUnavailable``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from scrapejobs.access import ApiKey
from scrapejobs.activity import LatencySummary, Window
from scrapejobs.audit import AuditEntry, AuditFilter
from scrapejobs.events import EventKind, JobEvent
from scrapejobs.jobs import Job, JobStatus
from scrapejobs.queries import NEWEST_FIRST, JobFilter, JobOrder
from scrapejobs.sites import Site, SiteStatus
from scrapejobs.stats import FailureTally, StatsCounts

__all__ = ["AuditStore", "KeyStore", "Store"]


class KeyStore(Protocol):
    """The API keys (``scrapejobs.access``), kept by their token's hash."""

    async def add(self, key: ApiKey, token_hash: str) -> bool:
        """Store a new key; False when its name is taken (by a revoked key too)."""

    async def listing(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""

    async def by_hash(self, token_hash: str) -> ApiKey | None: ...

    async def revoke(self, name: str, at: datetime) -> ApiKey | None:
        """Revoke the key (once: a revoked key keeps its time); None if there is none."""

    async def touch(self, name: str, at: datetime) -> None:
        """Record that the key was used at ``at``."""

    async def exist(self) -> bool:
        """Whether a key was ever made (revoked ones count)."""


class AuditStore(Protocol):
    """The audit log (``scrapejobs.audit``), newest first."""

    async def add(self, entry: AuditEntry) -> None: ...

    async def listing(self, query: AuditFilter, *, limit: int, offset: int) -> list[AuditEntry]: ...

    async def count(self, query: AuditFilter) -> int: ...


class Store(Protocol):
    @property
    def api_keys(self) -> KeyStore: ...

    @property
    def audit(self) -> AuditStore: ...

    async def close(self) -> None: ...

    async def watch_work(self, event: asyncio.Event) -> None:
        """Set ``event`` whenever a job may have become due (new, retried, released),
        in this process or, on PostgreSQL, any other; best effort: callers still poll."""

    def unwatch_work(self, event: asyncio.Event) -> None: ...

    async def ping(self) -> None:
        """Reach the database; StorageUnavailable if it cannot."""

    # -- jobs and claims ------------------------------------------------------

    async def insert_job(
        self,
        job: Job,
        event: JobEvent,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> bool:
        """Insert a new job; False when ``idempotency_key`` is already taken."""

    async def job_by_idempotency_key(self, key: str) -> tuple[Job, str | None] | None:
        """The job created with ``key``, and its request's fingerprint."""

    async def get_job(self, job_id: str) -> Job | None: ...

    async def find_jobs(
        self, query: JobFilter, *, limit: int, offset: int = 0, order: JobOrder = NEWEST_FIRST
    ) -> list[Job]:
        """A page of the jobs that match, sorted by ``order`` in the store; ties
        newest first, then by ``id`` (``JobOrder``)."""

    async def count_jobs(self, query: JobFilter) -> int: ...

    async def count_by_status(self, query: JobFilter) -> dict[JobStatus, int]:
        """How many jobs match in each status (``query.status`` is ignored)."""

    async def events(self, job_id: str) -> list[JobEvent]:
        """A job's history, oldest first."""

    async def save(
        self, old: Job, new: Job, events: Sequence[JobEvent] = (), *, site_answered: bool = False
    ) -> Job | None:
        """Write ``new`` over ``old`` if nobody changed it since; the stored job, or None.

        ``site_answered``: the attempt reached its site, whose circuit closes
        (``Site.closed``) in the same step."""

    async def claim_jobs(
        self, worker_id: str, *, now: datetime, lease_until: datetime, lease_tokens: Sequence[str]
    ) -> list[Job]:
        """Take up to one due pending job per token (priority, then oldest ``scheduled_at``),
        each under the next of ``lease_tokens``.

        Jobs whose site does not admit them (``Site.admits``) are not due; a
        claim on a half-open site makes its job the probe (``Site.claimed``),
        one probe per site."""

    async def expired_leases(self, now: datetime, *, limit: int = 100) -> list[Job]:
        """Running jobs whose lease ran out before ``now``, oldest expiry first."""

    async def delete_job(self, job: Job) -> bool:
        """Delete ``job`` with its history if it is unchanged since it was read."""

    async def count_prunable(self, statuses: Sequence[JobStatus], before: datetime) -> int:
        """Jobs in ``statuses`` last changed before ``before`` (``scrapejobs.retention``)."""

    async def prune_jobs(
        self, statuses: Sequence[JobStatus], before: datetime, *, limit: int
    ) -> int | None:
        """Delete up to ``limit`` of those, with their events and pages, out of the
        counts in the same transaction; None when another process is pruning."""

    # -- sites ------------------------------------------------------------------
    # A job's site has a row from the job's creation on (``insert_job``, ``save``).

    async def get_site(self, site: str) -> Site | None: ...

    async def list_sites(
        self, *, status: SiteStatus | None, now: datetime, limit: int, offset: int = 0
    ) -> tuple[list[Site], int]:
        """A page of sites by name (in ``status`` at ``now``), and how many there are."""

    async def update_site(self, site: str, change: Callable[[Site], Site], now: datetime) -> Site:
        """Apply ``change`` to the site's state as one step (no concurrent change is lost)."""

    async def count_sites(self, now: datetime) -> dict[SiteStatus, int]:
        """How many sites are in each state at ``now``."""

    async def sync_site_members(
        self, worker_id: str, rates: Mapping[str, float], until: datetime, now: datetime
    ) -> dict[str, tuple[Site | None, dict[str, float]]]:
        """``worker_id`` crawls the sites ``rates`` names (at those requests/s) until
        ``until``; each one's state (None: no row) and fresh members with their rates."""

    async def leave_sites(self, worker_id: str, names: Sequence[str] = ()) -> None:
        """``worker_id`` no longer crawls ``names`` (none of its sites, if empty)."""

    async def site_counts(
        self, names: Sequence[str], now: datetime
    ) -> tuple[dict[str, dict[JobStatus, int]], dict[str, int]]:
        """Jobs by status of each of the sites ``names``, and the workers crawling it now."""

    # -- pages ------------------------------------------------------------------

    async def add_pages(
        self, job_id: str, worker_id: str, attempt: int, rows: Sequence[Mapping[str, Any]]
    ) -> bool:
        """Store pages of a running attempt; False (nothing stored) if the lease is gone."""

    async def page_count(self, job_id: str, attempt: int) -> int: ...

    async def pages_after(
        self, job_id: str, attempt: int, after_id: int, *, limit: int
    ) -> list[dict[str, Any]]:
        """One chunk of an attempt's pages in crawl order, after the page ``after_id``."""

    # -- analytics --------------------------------------------------------------

    async def stats_counts(self, scope: JobFilter) -> StatsCounts:
        """The counts behind the retry analytics, for ``domain``, ``job_type``,
        ``created_since`` of ``scope``."""

    async def shared_counts(self) -> tuple[dict[str, int], FailureTally]:
        """Jobs by status and the failure tally of all jobs (the database metrics)."""

    # -- activity (scrapejobs.activity) -------------------------------------------

    async def event_counts(self, window: Window) -> dict[tuple[EventKind, int], int]:
        """Completed, failed and retried events by (kind, bucket of ``window``)."""

    async def queue_waits(self, window: Window) -> dict[int, LatencySummary]:
        """The queue waits of the attempts started in each bucket of ``window``."""

    async def running_jobs(self, *, limit: int) -> list[Job]:
        """Running jobs, longest running (oldest ``started_at``) first."""

    async def page_counts(self, attempts: Mapping[str, int]) -> dict[str, int]:
        """Pages stored by each job's attempt ``attempts[job_id]``, every job named."""
