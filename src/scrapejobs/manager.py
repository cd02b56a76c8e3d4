"""JobManager: one method per use case, over a store and the retry policy.

This is the in-process API that the HTTP server, the dashboard and the
workers use, and the one to embed scrapejobs in another Python service. Each
method reads a job, lets the pure domain decide (``transitions``, the retry
policy), and writes the outcome with one conditional update. When the update
loses a race, it reads the job again and decides again, so concurrent
requests see each other's results instead of overwriting them.

A worker's outcome is one call: :meth:`complete_attempt` or
:meth:`fail_attempt` with the :class:`~scrapejobs.failures.Failure`, under
the lease token its claim returned (the workers' use cases live in
``scrapejobs.attempts``, mixed in); an operator's change is :meth:`edit_job`,
:meth:`cancel_job`, :meth:`retry_job`.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from scrapejobs import transitions
from scrapejobs.attempts import AttemptCases, Step
from scrapejobs.audit_log import AuditLog
from scrapejobs.errors import JobConflict, JobNotFound
from scrapejobs.events import Attempt, JobEvent, attempts_from_events
from scrapejobs.insights import Insights
from scrapejobs.jobs import Job, JobStatus
from scrapejobs.key_manager import KeyManager
from scrapejobs.queries import NEWEST_FIRST, OLDEST_FIRST, JobFilter, JobOrder
from scrapejobs.results import Results
from scrapejobs.retention import PRUNE_BATCH, Retention
from scrapejobs.retry import RetryPolicy, RetryRefused
from scrapejobs.schemas import BulkRetryRequest, JobCreate
from scrapejobs.site_manager import SiteManager
from scrapejobs.sites import Breaker
from scrapejobs.store import Store
from scrapejobs.transitions import JobEdit

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


class JobManager(AttemptCases):
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
        self.keys = KeyManager(store.api_keys, clock)  # who may call, with which role
        self.audit = AuditLog(store.audit, clock)  # who changed what, when, from where

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
        return await self._store.count_jobs(query)

    async def count_by_status(self, query: JobFilter) -> dict[JobStatus, int]:
        """How many jobs match in each status, in one query (``query.status`` ignored)."""
        return await self._store.count_by_status(query)

    # -- creating and editing --------------------------------------------

    async def create_job(
        self, request: JobCreate, *, idempotency_key: str | None = None, actor: str = "api"
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
            transitions.created(job, actor),
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

    # -- workers: claim, heartbeat, report, release (``AttemptCases``) ------

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
