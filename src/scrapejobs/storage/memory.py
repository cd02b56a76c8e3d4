"""MemoryStore: the :class:`~scrapejobs.store.Store` in dicts, for fast tests.

It keeps the store's contract (conditional saves, one claim per job, a change
and its events together) in plain Python, so the manager's rules run in
milliseconds and a test can look at the stored jobs and events directly
(``store.jobs``, ``store.history``). Its analytics count the same things as
the SQL statements, from the rows: a test holds the two to the same answers.
Not for production: nothing outlives the process. Modelled on procrastinate's
``InMemoryConnector``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from scrapejobs import activity
from scrapejobs.events import EventKind, JobEvent
from scrapejobs.failures import ErrorType
from scrapejobs.jobs import Job, JobStatus
from scrapejobs.queries import NEWEST_FIRST, JobFilter, JobOrder, SortKey
from scrapejobs.sites import Site, SiteStatus
from scrapejobs.stats import MIN_EVIDENCE, TOP, FailureTally, StatsCounts
from scrapejobs.storage.audit import MemoryAudit
from scrapejobs.storage.keys import MemoryKeys
from scrapejobs.storage.wakeups import Wakeups
from scrapejobs.transitions import claimed

__all__ = ["MemoryStore"]

_FAILURE_EVENTS = (EventKind.FAILED, EventKind.RETRIED)
_DOMAIN_ERROR_TYPES = {
    ErrorType.RATE_LIMITED,
    ErrorType.FORBIDDEN,
    ErrorType.DNS_RESOLUTION,
    ErrorType.NOT_FOUND,
}


class MemoryStore:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.history: dict[str, list[JobEvent]] = {}
        self.pages: dict[str, list[dict[str, Any]]] = {}
        self.sites: dict[str, Site] = {}
        self.site_members: dict[str, dict[str, tuple[datetime, float]]] = {}
        self._keys: dict[str, tuple[str, str | None]] = {}
        self._page_ids = itertools.count(1)
        self._wakeups = Wakeups(None)
        self.api_keys = MemoryKeys()
        self.audit = MemoryAudit()

    async def close(self) -> None:
        pass

    async def watch_work(self, event: asyncio.Event) -> None:
        await self._wakeups.watch(event)

    def unwatch_work(self, event: asyncio.Event) -> None:
        self._wakeups.unwatch(event)

    async def ping(self) -> None:
        pass

    # -- jobs and claims ------------------------------------------------------

    async def insert_job(
        self,
        job: Job,
        event: JobEvent,
        *,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> bool:
        if idempotency_key is not None:
            if idempotency_key in self._keys:
                return False
            self._keys[idempotency_key] = (job.id, fingerprint)
        self.jobs[job.id] = job
        self.history[job.id] = [event]
        self.sites.setdefault(job.site, Site(job.site, updated_at=job.created_at))
        self._wakeups.notify()
        return True

    async def job_by_idempotency_key(self, key: str) -> tuple[Job, str | None] | None:
        job_id, fingerprint = self._keys.get(key, ("", None))
        job = self.jobs.get(job_id)
        return (job, fingerprint) if job else None

    async def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def _matching(self, query: JobFilter) -> list[Job]:
        return [job for job in self.jobs.values() if query.matches(job)]

    async def find_jobs(
        self, query: JobFilter, *, limit: int, offset: int = 0, order: JobOrder = NEWEST_FIRST
    ) -> list[Job]:
        newest_first = order.key is not SortKey.CREATED or order.descending
        found = sorted(
            self._matching(query), key=lambda job: (job.created_at, job.id), reverse=newest_first
        )
        if order.key is not SortKey.CREATED:  # a stable sort keeps ties newest first
            found.sort(key=order.value_of, reverse=order.descending)  # type: ignore[arg-type]
        return found[offset : offset + limit]

    async def count_jobs(self, query: JobFilter) -> int:
        return len(self._matching(query))

    async def count_by_status(self, query: JobFilter) -> dict[JobStatus, int]:
        found = Counter(job.status for job in self._matching(replace(query, status=None)))
        return {status: found[status] for status in JobStatus}

    async def events(self, job_id: str) -> list[JobEvent]:
        return list(self.history.get(job_id, []))

    async def save(
        self, old: Job, new: Job, events: Sequence[JobEvent] = (), *, site_answered: bool = False
    ) -> Job | None:
        current = self.jobs.get(old.id)
        if current is None or (current.version, current.status) != (old.version, old.status):
            return None
        saved = replace(new, version=old.version + 1)
        self.jobs[old.id] = saved
        self.sites.setdefault(saved.site, Site(saved.site, updated_at=saved.updated_at))
        if site_answered and old.site in self.sites:
            self.sites[old.site] = self.sites[old.site].answered(saved.updated_at)
        self.history[old.id].extend(events)
        if saved.status is JobStatus.PENDING:
            self._wakeups.notify()
        return saved

    async def claim_jobs(
        self, worker_id: str, *, now: datetime, lease_until: datetime, lease_tokens: Sequence[str]
    ) -> list[Job]:
        found: list[Job] = []
        for token in lease_tokens:
            if (job := self._claim(worker_id, now, lease_until, token)) is None:
                break
            found.append(job)
        return found

    def _claim(
        self, worker_id: str, now: datetime, lease_until: datetime, lease_token: str
    ) -> Job | None:
        due = [
            j
            for j in self.jobs.values()
            if j.status is JobStatus.PENDING and j.scheduled_at <= now and self._admits(j.site, now)
        ]
        if not due:
            return None
        job = min(due, key=lambda j: (-j.priority, j.scheduled_at, j.created_at))
        if job.site in self.sites:
            self.sites[job.site] = self.sites[job.site].claimed(job.id, lease_until, now)
        running, events = claimed(job, worker_id, now, lease_until, lease_token)
        running = replace(running, version=job.version + 1)
        self.jobs[job.id] = running
        self.history[job.id].extend(events)
        return running

    async def expired_leases(self, now: datetime, *, limit: int = 100) -> list[Job]:
        expired = [
            job
            for job in self.jobs.values()
            if job.status is JobStatus.RUNNING
            and job.lease_expires_at is not None
            and job.lease_expires_at < now
        ]
        return sorted(expired, key=lambda job: job.lease_expires_at or now)[:limit]

    async def delete_job(self, job: Job) -> bool:
        current = self.jobs.get(job.id)
        if current is None or current.version != job.version:
            return False
        del self.jobs[job.id], self.history[job.id]
        self.pages.pop(job.id, None)
        self._keys = {key: held for key, held in self._keys.items() if held[0] != job.id}
        return True

    def _prunable(self, statuses: Sequence[JobStatus], before: datetime) -> list[Job]:
        found = [j for j in self.jobs.values() if j.status in statuses and j.updated_at < before]
        return sorted(found, key=lambda job: job.updated_at)

    async def count_prunable(self, statuses: Sequence[JobStatus], before: datetime) -> int:
        return len(self._prunable(statuses, before))

    async def prune_jobs(
        self, statuses: Sequence[JobStatus], before: datetime, *, limit: int
    ) -> int | None:
        picked = self._prunable(statuses, before)[:limit]
        for job in picked:
            await self.delete_job(job)
        return len(picked)

    # -- sites ------------------------------------------------------------------

    async def get_site(self, site: str) -> Site | None:
        return self.sites.get(site)

    async def list_sites(
        self, *, status: SiteStatus | None, now: datetime, limit: int, offset: int = 0
    ) -> tuple[list[Site], int]:
        found = [
            site
            for _, site in sorted(self.sites.items())
            if status is None or site.status(now) is status
        ]
        return found[offset : offset + limit], len(found)

    def _admits(self, name: str, now: datetime) -> bool:
        site = self.sites.get(name)
        if site is None:
            return True
        probe = self.jobs.get(site.probe_job_id) if site.probe_job_id else None
        return site.admits(now, probe is not None and probe.status is JobStatus.RUNNING)

    async def update_site(self, site: str, change: Callable[[Site], Site], now: datetime) -> Site:
        self.sites[site] = change(self.sites.get(site, Site(site, updated_at=now)))
        return self.sites[site]

    async def count_sites(self, now: datetime) -> dict[SiteStatus, int]:
        found = Counter(site.status(now) for site in self.sites.values())
        return {status: found[status] for status in SiteStatus}

    async def sync_site_members(
        self, worker_id: str, rates: Mapping[str, float], until: datetime, now: datetime
    ) -> dict[str, tuple[Site | None, dict[str, float]]]:
        found: dict[str, tuple[Site | None, dict[str, float]]] = {}
        for name, rate in rates.items():
            members = self.site_members.setdefault(name, {})
            members[worker_id] = (until, rate)
            fresh = {member: sent for member, (seen, sent) in members.items() if seen > now}
            found[name] = (self.sites.get(name), fresh)
        return found

    async def leave_sites(self, worker_id: str, names: Sequence[str] = ()) -> None:
        for name in names or list(self.site_members):
            self.site_members.get(name, {}).pop(worker_id, None)

    async def site_counts(
        self, names: Sequence[str], now: datetime
    ) -> tuple[dict[str, dict[JobStatus, int]], dict[str, int]]:
        counts = {name: dict.fromkeys(JobStatus, 0) for name in names}
        for job in self.jobs.values():
            if job.site in counts:
                counts[job.site][job.status] += 1
        members = {
            name: sum(1 for seen, _ in self.site_members.get(name, {}).values() if seen > now)
            for name in names
        }
        return counts, members

    # -- pages ------------------------------------------------------------------

    async def add_pages(
        self, job_id: str, worker_id: str, attempt: int, rows: Sequence[Mapping[str, Any]]
    ) -> bool:
        job = self.jobs.get(job_id)
        if job is None or (job.status, job.worker_id, job.attempts) != (
            JobStatus.RUNNING,
            worker_id,
            attempt,
        ):
            return False
        stored = self.pages.setdefault(job_id, [])
        for row in rows:
            stored.append({**row, "id": next(self._page_ids), "job_id": job_id, "attempt": attempt})
        return True

    def _pages(self, job_id: str, attempt: int) -> list[dict[str, Any]]:
        return [page for page in self.pages.get(job_id, []) if page["attempt"] == attempt]

    async def page_count(self, job_id: str, attempt: int) -> int:
        return len(self._pages(job_id, attempt))

    async def pages_after(
        self, job_id: str, attempt: int, after_id: int, *, limit: int
    ) -> list[dict[str, Any]]:
        return [page for page in self._pages(job_id, attempt) if page["id"] > after_id][:limit]

    # -- analytics ----------------------------------------------------------------

    async def stats_counts(self, scope: JobFilter) -> StatsCounts:
        jobs = self._matching(
            JobFilter(
                domain=scope.domain, job_type=scope.job_type, created_since=scope.created_since
            )
        )
        return StatsCounts(
            by_retries=dict(Counter((job.retry_count, job.status.value) for job in jobs)),
            tally=_tally(event for job in jobs for event in self.history[job.id]),
            retried_domains=_retried_domains(jobs),
            domain_errors=_domain_errors(jobs),
            exhausted=dict(
                Counter(
                    job.failure.pattern.value if job.failure else ""
                    for job in jobs
                    if job.status is JobStatus.FAILED and job.retries_exhausted
                )
            ),
        )

    async def shared_counts(self) -> tuple[dict[str, int], FailureTally]:
        by_status = Counter(job.status.value for job in self.jobs.values())
        return dict(by_status), _tally(self._all_events())

    # -- activity (the definitions of scrapejobs.activity) -------------------------

    def _all_events(self) -> Iterable[JobEvent]:
        return (event for history in self.history.values() for event in history)

    async def event_counts(self, window: activity.Window) -> dict[tuple[EventKind, int], int]:
        return activity.count_events(self._all_events(), window)

    async def queue_waits(self, window: activity.Window) -> dict[int, activity.LatencySummary]:
        return activity.queue_waits(self._all_events(), window)

    async def running_jobs(self, *, limit: int) -> list[Job]:
        running = [job for job in self.jobs.values() if job.status is JobStatus.RUNNING]
        return sorted(running, key=lambda job: (job.started_at or job.updated_at, job.id))[:limit]

    async def page_counts(self, attempts: Mapping[str, int]) -> dict[str, int]:
        return {job_id: len(self._pages(job_id, n)) for job_id, n in attempts.items()}


def _tally(events: Iterable[JobEvent]) -> FailureTally:
    unknown = ErrorType.UNKNOWN.value
    tables: dict[EventKind, Counter[tuple[str, str]]] = {
        kind: Counter() for kind in _FAILURE_EVENTS
    }
    for event in events:
        if event.event in tables:
            key = (event.failure_pattern or unknown, event.error_type or unknown)
            tables[event.event][key] += 1
    return FailureTally(dict(tables[EventKind.FAILED]), dict(tables[EventKind.RETRIED]))


def _retried_domains(jobs: list[Job]) -> list[tuple[str, int, int]]:
    retries: dict[str, int] = defaultdict(int)
    retried: dict[str, int] = defaultdict(int)
    for job in jobs:
        if job.retry_count > 0:
            retries[job.domain] += job.retry_count
            retried[job.domain] += 1
    ranked = sorted(retries, key=lambda domain: (-retries[domain], domain))[:TOP]
    return [(domain, retries[domain], retried[domain]) for domain in ranked]


def _domain_errors(jobs: list[Job]) -> list[tuple[str, str, int]]:
    found = Counter(
        (job.failure.error_type.value, job.domain)
        for job in jobs
        if job.failure is not None and job.failure.error_type in _DOMAIN_ERROR_TYPES
    )
    kept = [
        (error_type, domain, n) for (error_type, domain), n in found.items() if n >= MIN_EVIDENCE
    ]
    return sorted(kept, key=lambda row: (-row[2], row[1], row[0]))[: TOP * len(_DOMAIN_ERROR_TYPES)]
