"""JobManager: one method per use case, over a store and the retry policy.

This is the in-process API that the HTTP server, the dashboard and the
workers use, and the one to embed scrapejobs in another Python service. Each
method reads a job, lets the pure domain decide (``transitions``, the retry
policy), and writes the outcome with one conditional update. When the update
loses a race, it reads the job again and decides again, so concurrent
requests see each other's results instead of overwriting them.

A worker's outcome is one call: :meth:`complete_attempt` or
:meth:`fail_attempt` with the :class:`~scrapejobs.failures.Failure`; an
operator's change is :meth:`edit_job`, :meth:`cancel_job`, :meth:`retry_job`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from scrapejobs import transitions
from scrapejobs.errors import JobConflict, JobNotFound
from scrapejobs.events import Attempt, JobEvent, attempts_from_events
from scrapejobs.failures import Failure
from scrapejobs.insights import Insights
from scrapejobs.jobs import Job, JobStatus
from scrapejobs.queries import NEWEST_FIRST, OLDEST_FIRST, JobFilter, JobOrder
from scrapejobs.results import Results
from scrapejobs.retention import PRUNE_BATCH, Retention
from scrapejobs.retry import RetryPolicy, RetryRefused
from scrapejobs.schemas import BulkRetryRequest, JobCreate
from scrapejobs.site_manager import SiteManager
from scrapejobs.sites import Breaker, SiteEffect, site_effect
from scrapejobs.store import Store
from scrapejobs.transitions import Change, JobEdit

__all__ = ["BulkRetryResult", "JobManager", "retry_message", "utcnow"]

MAX_RACE_ATTEMPTS = 10


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BulkRetryResult:
    jobId: str
    success: bool
    message: str
    job: Job | None = None


# A step: given the job as read, the job to write and its events (or raise).
Step = Callable[[Job], Change]


class JobManager:
    """The use cases of scrapejobs; adapters (HTTP, CLI, workers) call only these."""

    def __init__(
        self,
        store: Store,
        policy: RetryPolicy | None = None,
        *,
        lease_seconds: int = 60,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self._store = store
        self.policy = policy or RetryPolicy()
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.rng = rng or random.Random()
        self.sites = SiteManager(store, clock, breaker or Breaker())
        """The sites' use cases (pause, resume, cooldowns, circuits), on the same store."""
        self.insights = Insights(store, clock, self.sites)
        """Analytics and activity over all jobs (stats, metrics, the dashboard's charts)."""
        self.results = Results(store)
        """The pages each job's attempts crawled: stored, counted, read back."""

    # -- reading ---------------------------------------------------------

    async def ping(self) -> None:
        """Reach the database (``/healthz``); StorageUnavailable if it cannot."""
        await self._store.ping()

    async def get_job(self, job_id: str) -> Job:
        job = await self._store.get_job(job_id) if _is_uuid(job_id) else None
        if job is None:
            raise JobNotFound()
        return job

    async def get_attempts(self, job_id: str) -> list[Attempt]:
        return attempts_from_events(await self._store.events(job_id))

    async def get_events(self, job_id: str) -> list[JobEvent]:
        return await self._store.events(job_id)

    async def find_jobs(
        self, query: JobFilter, *, limit: int = 50, offset: int = 0, order: JobOrder = NEWEST_FIRST
    ) -> list[Job]:
        """A page of the jobs that match, newest first unless ``order`` says otherwise
        (bulk retry takes them ``OLDEST_FIRST``); sorted by the store, ties by ``id``."""
        return await self._store.find_jobs(query, limit=limit, offset=offset, order=order)

    async def list_jobs(
        self, query: JobFilter, *, limit: int = 50, offset: int = 0, order: JobOrder = NEWEST_FIRST
    ) -> tuple[list[Job], int]:
        """A page of the jobs that match, and how many match."""
        found = await self.find_jobs(query, limit=limit, offset=offset, order=order)
        return found, await self._store.count_jobs(query)

    async def count_jobs(self, query: JobFilter) -> int:
        """How many jobs match."""
        return await self._store.count_jobs(query)

    async def count_by_status(self, query: JobFilter) -> dict[JobStatus, int]:
        """How many jobs match in each status, in one query (``query.status`` ignored)."""
        return await self._store.count_by_status(query)

    # -- creating and editing --------------------------------------------

    async def create_job(
        self, request: JobCreate, *, idempotency_key: str | None = None
    ) -> tuple[Job, bool]:
        """Create a job; with a key already used, return the first job and False."""
        now = self.clock()
        job = Job(
            id=str(uuid.uuid4()),
            domain=request.domain,
            job_type=request.job_type,
            status=JobStatus.PENDING,
            priority=request.priority,
            retry_count=0,
            max_retries=request.max_retries,
            config=request.full_config(),
            metadata={"source": "api", **request.metadata},
            created_at=now,
            updated_at=now,
            scheduled_at=now,
        )
        fingerprint = request.fingerprint()
        inserted = await self._store.insert_job(
            job,
            transitions.created(job, "api"),
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
        if inserted:
            return job, True
        assert idempotency_key is not None
        found = await self._store.job_by_idempotency_key(idempotency_key)
        if found is None:  # the first job was deleted meanwhile
            raise JobConflict("Idempotency-Key belongs to a job that was deleted")
        first, first_fingerprint = found
        if first_fingerprint != fingerprint:
            raise JobConflict(
                "Idempotency-Key was already used with a different request",
                {"jobId": first.id},
            )
        return first, False

    async def edit_job(self, job_id: str, edit: JobEdit, *, actor: str = "api") -> Job:
        """An operator changes priority, max_retries, config or metadata; all or nothing."""
        return await self._mutate(
            job_id, lambda job: transitions.edited(job, edit, actor, self.clock())
        )

    async def cancel_job(
        self, job_id: str, *, actor: str = "api", edit: JobEdit | None = None
    ) -> Job:
        """Stop a pending or running job for good (with ``edit`` applied in the same step)."""
        return await self._mutate(
            job_id, lambda job: transitions.cancelled(job, actor, self.clock(), edit)
        )

    async def delete_job(self, job_id: str) -> Job:
        """Delete a job that is not running, with its history."""
        for _ in range(MAX_RACE_ATTEMPTS):
            job = await self.get_job(job_id)
            if job.status is JobStatus.RUNNING:
                raise JobConflict(
                    "Job is currently running",
                    {"currentStatus": job.status.value, "reason": "Cancel it first"},
                )
            if await self._store.delete_job(job):
                return job
        raise _busy()

    # -- retrying ----------------------------------------------------------

    async def retry_job(self, job_id: str, *, actor: str = "api", delay_seconds: float = 0) -> Job:
        """The seed's manual retry: ``failed -> pending``, ``retry_count + 1``."""
        job = await self.get_job(job_id)
        for _ in range(MAX_RACE_ATTEMPTS):
            now = self.clock()
            plan = self.policy.manual(job, actor=actor, now=now, delay_seconds=delay_seconds)
            if isinstance(plan, RetryRefused):
                raise plan.error(job)
            new, events = transitions.retried(job, plan, now)
            saved = await self._store.save(job, new, events)
            if saved is not None:
                return saved
            reread = await self._store.get_job(job_id)
            if reread is None:
                raise JobNotFound(
                    "Job not found or cannot be retried",
                    "Job may have been deleted or is in non-retryable state",
                )
            job = reread
        raise _busy()

    async def bulk_retry(
        self, request: BulkRetryRequest, *, actor: str = "api"
    ) -> list[BulkRetryResult]:
        """Retry the failed jobs that match, oldest first, up to ``limit``; one result per job."""
        query = JobFilter(
            domain=request.domain,
            failure_pattern=request.failurePattern,
            error_contains=request.errorContains,
            ids=tuple(request.ids) if request.ids is not None else None,
        )
        return await self.retry_failed(
            query, limit=request.limit, actor=actor, delay_seconds=request.delaySeconds
        )

    async def retry_failed(
        self, query: JobFilter, *, limit: int, actor: str = "api", delay_seconds: float = 0
    ) -> list[BulkRetryResult]:
        """Retry the failed jobs ``query`` matches (whatever its status says), oldest
        first, up to ``limit``, each as :meth:`retry_job`; one result per job."""
        failed = replace(query, status=JobStatus.FAILED)
        matched = await self.find_jobs(failed, limit=limit, order=OLDEST_FIRST)
        results = []
        for job in matched:
            try:
                retried = await self.retry_job(job.id, actor=actor, delay_seconds=delay_seconds)
            except (JobNotFound, JobConflict) as exc:
                results.append(BulkRetryResult(job.id, False, exc.message))
            else:
                results.append(BulkRetryResult(job.id, True, retry_message(retried), retried))
        return results

    # -- workers -------------------------------------------------------------

    def _lease_until(self, now: datetime, lease_seconds: int | None) -> datetime:
        return now + timedelta(seconds=lease_seconds or self.lease_seconds)

    async def claim_next(self, worker_id: str, *, lease_seconds: int | None = None) -> Job | None:
        """Give the next due job to ``worker_id`` with a lease, or None."""
        claimed = await self.claim_jobs(worker_id, 1, lease_seconds=lease_seconds)
        return claimed[0] if claimed else None

    async def claim_jobs(
        self, worker_id: str, limit: int, *, lease_seconds: int | None = None
    ) -> list[Job]:
        """Up to ``limit`` due jobs for ``worker_id`` (its free slots), in one statement."""
        now = self.clock()
        lease_until = self._lease_until(now, lease_seconds)
        return await self._store.claim_jobs(
            worker_id, now=now, lease_until=lease_until, limit=limit
        )

    async def watch_work(self, event: asyncio.Event) -> None:
        """Set ``event`` when a job may have become due: a worker's cue to claim now."""
        await self._store.watch_work(event)

    def unwatch_work(self, event: asyncio.Event) -> None:
        self._store.unwatch_work(event)

    async def heartbeat(
        self, job_id: str, worker_id: str, *, lease_seconds: int | None = None
    ) -> Job:
        """Extend the lease of a running job held by ``worker_id``."""

        def step(job: Job) -> Change:
            now = self.clock()
            return transitions.heartbeat(job, worker_id, now, self._lease_until(now, lease_seconds))

        return await self._mutate(job_id, step)

    async def complete_attempt(
        self,
        job_id: str,
        *,
        worker_id: str | None,
        edit: JobEdit | None = None,
        note: str | None = None,
        job: Job | None = None,
    ) -> Job:
        """The running attempt succeeded (``note``: what it did not cover, and why);
        its site answered, so the site's circuit closes. ``worker_id`` None: an
        operator's report. ``job``: the job as the caller last saw it (a worker's
        claim), which saves reading it when nothing changed it since."""
        return await self._mutate(
            job_id,
            lambda job: transitions.completed(job, worker_id, self.clock(), edit, note),
            job=job,
            site_answered=True,
        )

    async def fail_attempt(
        self,
        job_id: str,
        failure: Failure,
        *,
        worker_id: str | None,
        edit: JobEdit | None = None,
    ) -> Job:
        """The attempt failed; the job's site learns of it first, for the fleet
        (``Site.attempt_ended``), then the policy decides in one step. While
        the site holds its jobs back (a cooldown, an open circuit), the job waits."""
        job, site = None, None
        effect = site_effect(failure.recorded(), self.clock())
        if effect is SiteEffect.CHANGES:
            job = await self.get_job(job_id)
            site = await self.sites.attempt_ended(job.site, job.id, failure)
        policy, rng = self.policy, self.rng
        return await self._mutate(
            job_id,
            lambda job: transitions.failed(
                job, failure, worker_id, self.clock(), policy=policy, rng=rng, edit=edit, site=site
            ),
            job=job,
            site_answered=effect is SiteEffect.ANSWERED,
        )

    async def release(
        self, job_id: str, worker_id: str, *, reason: str | None = None, seconds: float = 0
    ) -> Job:
        """A worker gives its job back, no retry spent, due in ``seconds``: it is
        stopping, or its site is held back (``reason``)."""
        return await self._mutate(
            job_id,
            lambda job: transitions.released(job, worker_id, self.clock(), reason, seconds),
        )

    async def prune(
        self, retention: Retention, *, dry_run: bool = False, batch: int = PRUNE_BATCH
    ) -> int | None:
        """Delete the ended jobs ``retention`` selects (or count them, ``dry_run``),
        ``batch`` per transaction; None when another process is pruning now."""
        before, statuses, deleted = retention.cutoff(self.clock()), retention.statuses, 0
        if dry_run:
            return await self._store.count_prunable(statuses, before)
        while True:
            done = await self._store.prune_jobs(statuses, before, limit=batch)
            if done is None:
                return deleted or None
            deleted += done
            if done < batch:
                return deleted

    async def reap_expired_leases(self) -> list[Job]:
        """Fail the running jobs whose worker stopped renewing (``worker_lost``)."""
        reaped, now = [], self.clock()
        for job in await self._store.expired_leases(now):
            new, events = transitions.lease_expired(job, now, policy=self.policy, rng=self.rng)
            saved = await self._store.save(job, new, events)
            if saved is not None:  # else a heartbeat or report came first
                reaped.append(saved)
        return reaped

    async def _mutate(
        self, job_id: str, step: Step, *, job: Job | None = None, site_answered: bool = False
    ) -> Job:
        """Read the job (unless given, as just read), apply ``step``, save; again on a race."""
        for _ in range(MAX_RACE_ATTEMPTS):
            job = job or await self.get_job(job_id)
            new, events = step(job)
            saved = await self._store.save(job, new, events, site_answered=site_answered)
            if saved is not None:
                return saved
            job = None
        raise _busy()


def retry_message(job: Job) -> str:
    """The seed's success message."""
    return f"Job scheduled for retry (attempt {job.retry_count}/{job.max_retries})"


def _is_uuid(value: str) -> bool:
    with contextlib.suppress(ValueError):
        return len(value) == 36 and bool(uuid.UUID(value))
    return False


def _busy() -> JobConflict:
    return JobConflict("Job is being changed by other requests; try again")
