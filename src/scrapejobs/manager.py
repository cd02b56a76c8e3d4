"""JobManager: one method per use case, over the store and the retry policy.

This is the in-process API that the HTTP server uses, and the one to embed
scrapejobs in another Python service. It reads a job, lets the pure domain
decide (transitions, classification, retry policy), and writes the outcome
with one conditional update. When the update loses a race, it reads the job
again and decides again, so concurrent requests see each other's results
instead of overwriting them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapejobs.errors import (
    InvalidRequest,
    JobConflict,
    JobNotFound,
    LeaseLost,
    RetryNotAllowed,
)
from scrapejobs.failures import ErrorType, Failure, classify
from scrapejobs.jobs import (
    DEFAULT_CONFIG,
    Attempt,
    EventKind,
    InvalidDomain,
    Job,
    JobEvent,
    JobStatus,
    JobType,
    attempts_from_events,
    can_transition,
    normalize_domain,
    timestamp,
)
from scrapejobs.retry import GiveUp, RetryPlan, RetryPolicy, manual_retry_refusal
from scrapejobs.schemas import BulkRetryRequest, JobCreate, JobUpdate, check_metadata_size
from scrapejobs.stats import stats_report
from scrapejobs.storage.store import JobFilter, JobStore

__all__ = ["BulkRetryResult", "JobManager", "retry_message", "utcnow"]

MAX_RACE_ATTEMPTS = 10
REPORT_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BulkRetryResult:
    jobId: str
    success: bool
    message: str
    job: Job | None = None


# A step: given the job as read, the job to write and its events (or raise).
Step = Callable[[Job], tuple[Job, list[JobEvent]]]


class JobManager:
    """The use cases of scrapejobs; adapters (HTTP, CLI, workers) call only these."""

    def __init__(
        self,
        store: JobStore,
        policy: RetryPolicy | None = None,
        *,
        lease_seconds: int = 60,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or RetryPolicy()
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.rng = rng or random.Random()

    # -- reading ---------------------------------------------------------

    async def get_job(self, job_id: str) -> Job:
        job = await self.store.get_job(job_id) if _is_uuid(job_id) else None
        if job is None:
            raise JobNotFound()
        return job

    async def get_attempts(self, job_id: str) -> list[Attempt]:
        return attempts_from_events(await self.store.events(job_id))

    async def get_events(self, job_id: str) -> list[JobEvent]:
        return await self.store.events(job_id)

    async def list_jobs(
        self, query: JobFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Job], int]:
        return await self.store.list_jobs(query, limit=limit, offset=offset)

    async def stats(
        self,
        *,
        domain: str | None = None,
        since: datetime | None = None,
        job_type: JobType | None = None,
    ) -> dict[str, Any]:
        """Retry analytics over the jobs created since ``since`` (``GET .../stats``)."""
        if domain is not None:
            domain = _domain(domain)
        counts = await self.store.stats_counts(
            JobFilter(domain=domain, job_type=job_type, created_since=since)
        )
        scope = {
            "domain": domain,
            "since": timestamp(since) if since else None,
            "job_type": job_type.value if job_type else None,
        }
        return stats_report(replace(counts, scope=scope), timestamp(self.clock()))

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
            error_message=None,
            created_at=now,
            updated_at=now,
            scheduled_at=now,
        )
        created = _event(job, EventKind.CREATED, "api", now, to_status=JobStatus.PENDING)
        fingerprint = request.fingerprint()
        inserted = await self.store.insert_job(
            job, created, idempotency_key=idempotency_key, fingerprint=fingerprint
        )
        if inserted:
            return job, True
        assert idempotency_key is not None
        found = await self.store.job_by_idempotency_key(idempotency_key)
        if found is None:  # the first job was deleted meanwhile
            raise JobConflict("Idempotency-Key belongs to a job that was deleted")
        first, first_fingerprint = found
        if first_fingerprint != fingerprint:
            raise JobConflict(
                "Idempotency-Key was already used with a different request",
                {"jobId": first.id},
            )
        return first, False

    async def update_job(self, job_id: str, update: JobUpdate, *, actor: str = "api") -> Job:
        """Edit fields, cancel, or record a worker's report; all or nothing."""
        target = update.target_status
        if target is not None and target not in (*REPORT_STATUSES, JobStatus.CANCELLED):
            raise InvalidRequest(
                f"status cannot be set to '{target.value}'",
                "a job becomes pending only through POST /api/scrape-jobs/{id}/retry, "
                "and running only when a worker claims it",
            )

        def step(job: Job) -> tuple[Job, list[JobEvent]]:
            now = self.clock()
            edited = _apply_edits(job, update, now)
            if target in REPORT_STATUSES:
                return self._report(job, edited, update, now)
            if target is JobStatus.CANCELLED:
                return _cancel(job, edited, actor, now)
            return edited, [
                _event(job, EventKind.UPDATED, actor, now, details=_edit_details(update))
            ]

        return await self._mutate(job_id, step)

    async def cancel_job(self, job_id: str, *, actor: str = "api") -> Job:
        return await self.update_job(job_id, JobUpdate(status="cancelled"), actor=actor)

    async def delete_job(self, job_id: str) -> Job:
        """Delete a job that is not running, with its history."""
        for _ in range(MAX_RACE_ATTEMPTS):
            job = await self.get_job(job_id)
            if job.status is JobStatus.RUNNING:
                raise JobConflict(
                    "Job is currently running",
                    {"currentStatus": job.status.value, "reason": "Cancel it first"},
                )
            if await self.store.delete_job(job):
                return job
        raise _busy()

    # -- retrying ----------------------------------------------------------

    async def retry_job(self, job_id: str, *, actor: str = "api", delay_seconds: float = 0) -> Job:
        """The seed's manual retry: ``failed -> pending``, ``retry_count + 1``."""
        job = await self.get_job(job_id)
        for _ in range(MAX_RACE_ATTEMPTS):
            refusal = manual_retry_refusal(job)
            if refusal is not None:
                raise _retry_refused(job, refusal.limit_reached, refusal.reason)
            now = self.clock()
            error_type = job.metadata.get("errorType")
            reason = f"Manual retry after {error_type} error" if error_type else "Manual retry"
            plan = self.policy.plan(
                job, actor=actor, now=now, delay_seconds=delay_seconds, reason=reason
            )
            new, events = _retried(job, plan, actor, now)
            saved = await self.store.save(job, new, events)
            if saved is not None:
                return saved
            reread = await self.store.get_job(job_id)
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
        """Retry the failed jobs that match, oldest first; one result per job."""
        ids = tuple(request.ids) if request.ids is not None else None
        query = JobFilter(
            status=JobStatus.FAILED,
            domain=request.domain,
            failure_pattern=request.failurePattern.value if request.failurePattern else None,
            error_contains=request.errorContains,
            ids=ids,
        )
        matched, _ = await self.store.list_jobs(query, limit=request.limit, offset=0)
        results = []
        for job in reversed(matched):
            try:
                retried = await self.retry_job(
                    job.id, actor=actor, delay_seconds=request.delaySeconds
                )
            except (JobNotFound, JobConflict) as exc:
                results.append(BulkRetryResult(job.id, False, exc.message))
            else:
                message = retry_message(retried)
                results.append(BulkRetryResult(job.id, True, message, retried))
        return results

    # -- workers -------------------------------------------------------------

    async def claim_next(self, worker_id: str, *, lease_seconds: int | None = None) -> Job | None:
        """Give the next due job to ``worker_id`` with a lease, or None."""
        now = self.clock()
        lease_until = now + timedelta(seconds=lease_seconds or self.lease_seconds)
        return await self.store.claim_next(worker_id, now=now, lease_until=lease_until)

    async def heartbeat(
        self, job_id: str, worker_id: str, *, lease_seconds: int | None = None
    ) -> Job:
        """Extend the lease of a running job held by ``worker_id``."""

        def step(job: Job) -> tuple[Job, list[JobEvent]]:
            _check_lease(job, worker_id)
            now = self.clock()
            lease_until = now + timedelta(seconds=lease_seconds or self.lease_seconds)
            return replace(job, lease_expires_at=lease_until, updated_at=now), []

        return await self._mutate(job_id, step)

    async def release(self, job_id: str, worker_id: str) -> Job:
        """A stopping worker gives its job back: ``pending`` at once, no retry spent."""

        def step(job: Job) -> tuple[Job, list[JobEvent]]:
            _check_lease(job, worker_id)
            now = self.clock()
            released = job.moved_to(JobStatus.PENDING, now, scheduled_at=now)
            return released, [_event(job, EventKind.RELEASED, worker_id, now, attempt=job.attempts)]

        return await self._mutate(job_id, step)

    async def record_pages(
        self, job: Job, worker_id: str, pages: Sequence[Mapping[str, Any]]
    ) -> None:
        """Store pages of the attempt ``worker_id`` is running; LeaseLost if it no longer is."""
        if not await self.store.add_pages(job.id, worker_id, job.attempts, pages):
            raise LeaseLost("Worker does not hold the lease on this job", {"jobId": job.id})

    async def pages_crawled(self, job: Job) -> int:
        """Pages stored by the job's latest attempt (so far, while it runs)."""
        return await self.store.page_count(job.id, job.attempts)

    async def iter_pages(self, job: Job, *, chunk: int = 500) -> AsyncIterator[dict[str, Any]]:
        """The latest attempt's pages in crawl order, read in chunks."""
        after = 0
        while rows := await self.store.pages_after(job.id, job.attempts, after, limit=chunk):
            for row in rows:
                yield row
            after = rows[-1]["id"]

    async def reap_expired_leases(self) -> list[Job]:
        """Fail the running jobs whose worker stopped renewing (``worker_lost``)."""
        reaped = []
        now = self.clock()
        for job in await self.store.expired_leases(now):
            assert job.lease_expires_at is not None
            failure = Failure(
                ErrorType.WORKER_LOST,
                f"Worker {job.worker_id} lost: lease expired at {timestamp(job.lease_expires_at)}",
            )
            new, events = self._fail(job, job, failure, actor="system", now=now)
            saved = await self.store.save(job, new, events)
            if saved is not None:  # else a heartbeat or report came first
                reaped.append(saved)
        return reaped

    # -- internals -----------------------------------------------------------

    async def _mutate(self, job_id: str, step: Step) -> Job:
        for _ in range(MAX_RACE_ATTEMPTS):
            job = await self.get_job(job_id)
            new, events = step(job)
            saved = await self.store.save(job, new, events)
            if saved is not None:
                return saved
        raise _busy()

    def _report(
        self, job: Job, edited: Job, update: JobUpdate, now: datetime
    ) -> tuple[Job, list[JobEvent]]:
        if update.workerId is not None:
            _check_lease(job, update.workerId)
        target = update.target_status
        assert target is not None
        _check_transition(job, target, "report")
        actor = update.workerId or job.worker_id or "api"
        if target is JobStatus.COMPLETED:
            done = edited.moved_to(JobStatus.COMPLETED, now, error_message=None)
            return done, [_event(job, EventKind.COMPLETED, actor, now, attempt=job.attempts)]
        failure = classify(
            update.error_message or "Job failed",
            error_type=update.errorType,
            http_status=update.httpStatus,
            retry_after=update.retryAfter,
        )
        return self._fail(job, edited, failure, actor=actor, now=now)

    def _fail(
        self, job: Job, edited: Job, failure: Failure, *, actor: str, now: datetime
    ) -> tuple[Job, list[JobEvent]]:
        """A running job's attempt failed: record it, then let the policy decide."""
        metadata = {
            **edited.metadata,
            "errorType": failure.error_type.value,
            "failurePattern": failure.pattern.value,
        }
        for key, value in (
            ("httpStatus", failure.http_status),
            ("retryAfter", failure.retry_after),
            ("noRetryReason", None),
        ):
            if value is None:
                metadata.pop(key, None)
            else:
                metadata[key] = value
        failed = edited.moved_to(
            JobStatus.FAILED, now, error_message=failure.message, metadata=metadata
        )
        failed_event = _event(
            job,
            EventKind.FAILED,
            actor,
            now,
            to_status=JobStatus.FAILED,
            attempt=job.attempts,
            failure=failure,
        )
        decision = self.policy.decide(failed, failure, now=now, rng=self.rng)
        if isinstance(decision, GiveUp):
            failed = replace(failed, metadata={**metadata, "noRetryReason": decision.reason})
            return failed, [failed_event]
        new, retry_events = _retried(failed, decision, "system", now)
        return new, [failed_event, *retry_events]


def retry_message(job: Job) -> str:
    """The seed's success message."""
    return f"Job scheduled for retry (attempt {job.retry_count}/{job.max_retries})"


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _domain(value: str) -> str:
    try:
        return normalize_domain(value)
    except InvalidDomain as exc:
        raise InvalidRequest("Invalid domain", str(exc)) from exc


def _busy() -> JobConflict:
    return JobConflict("Job is being changed by other requests; try again")


def _event(
    job: Job,
    kind: EventKind,
    actor: str,
    now: datetime,
    *,
    to_status: JobStatus | None = None,
    attempt: int | None = None,
    failure: Failure | None = None,
    details: dict[str, Any] | None = None,
) -> JobEvent:
    return JobEvent(
        job_id=job.id,
        at=now,
        event=kind,
        actor=actor,
        retry_count=job.retry_count,
        from_status=job.status if kind is not EventKind.CREATED else None,
        to_status=to_status or _STATUS_OF_EVENT.get(kind),
        attempt=attempt,
        error_message=failure.message if failure else None,
        error_type=failure.error_type.value if failure else None,
        failure_pattern=failure.pattern.value if failure else None,
        http_status=failure.http_status if failure else None,
        details=details,
    )


_STATUS_OF_EVENT = {
    EventKind.CREATED: JobStatus.PENDING,
    EventKind.COMPLETED: JobStatus.COMPLETED,
    EventKind.FAILED: JobStatus.FAILED,
    EventKind.RETRIED: JobStatus.PENDING,
    EventKind.RELEASED: JobStatus.PENDING,
    EventKind.CANCELLED: JobStatus.CANCELLED,
}


def _check_transition(job: Job, target: JobStatus, step: str) -> None:
    if not can_transition(job.status, target, step):
        raise InvalidRequest(
            f"Job cannot go from '{job.status.value}' to '{target.value}'",
            {"currentStatus": job.status.value, "requestedStatus": target.value},
        )


def _check_lease(job: Job, worker_id: str) -> None:
    if job.status is not JobStatus.RUNNING or job.worker_id != worker_id:
        raise LeaseLost(
            "Worker does not hold the lease on this job",
            {
                "currentStatus": job.status.value,
                "workerId": worker_id,
                "leaseHolder": job.worker_id,
            },
        )


def _retry_refused(job: Job, limit_reached: bool, reason: str) -> RetryNotAllowed:
    if limit_reached:
        return RetryNotAllowed(
            "Job has exceeded maximum retry attempts",
            {
                "jobId": job.id,
                "currentRetries": job.retry_count,
                "maxRetries": job.max_retries,
                "lastError": job.error_message or job.metadata.get("lastError"),
                "failurePattern": job.failure_pattern,
            },
        )
    return RetryNotAllowed(
        "Job cannot be retried", {"currentStatus": job.status.value, "reason": reason}
    )


def _retried(job: Job, plan: RetryPlan, actor: str, now: datetime) -> tuple[Job, list[JobEvent]]:
    new = job.moved_to(
        JobStatus.PENDING,
        now,
        retry_count=plan.retry_count,
        scheduled_at=plan.scheduled_at,
        config=plan.config,
        metadata=plan.metadata,
        error_message=None,
    )
    changes = {k: v for k, v in plan.config.items() if job.config.get(k) != v}
    details = {
        "reason": plan.reason,
        "scheduledAt": timestamp(plan.scheduled_at),
        "configChanges": changes,
    }
    event = _event(job, EventKind.RETRIED, actor, now, to_status=JobStatus.PENDING, details=details)
    # The retry row names the failure it answers, so analytics can group retries by it.
    answered = replace(
        event,
        retry_count=plan.retry_count,
        error_message=job.error_message,
        error_type=job.metadata.get("errorType"),
        failure_pattern=job.metadata.get("failurePattern"),
    )
    return new, [answered]


def _merge_config(config: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = {**config, **patch}
    for key, value in patch.items():
        if value is None:
            if key in DEFAULT_CONFIG:
                merged[key] = DEFAULT_CONFIG[key]
            else:
                del merged[key]
    return merged


def _apply_edits(job: Job, update: JobUpdate, now: datetime) -> Job:
    changes: dict[str, Any] = {"updated_at": now}
    if update.priority is not None:
        changes["priority"] = update.priority
    if update.max_retries is not None:
        changes["max_retries"] = update.max_retries
    if update.config is not None:
        changes["config"] = _merge_config(dict(job.config), update.config.values())
    if update.metadata is not None:
        changes["metadata"] = {**job.metadata, **update.metadata}
        try:
            check_metadata_size(changes["metadata"])
        except ValueError as exc:
            detail = {"field": "body.metadata", "message": f"merged metadata {exc}"}
            raise InvalidRequest("Invalid request", [detail]) from exc
    return replace(job, **changes)


def _edit_details(update: JobUpdate) -> dict[str, Any]:
    return update.model_dump(mode="json", exclude_unset=True, exclude={"status"})


def _cancel(job: Job, edited: Job, actor: str, now: datetime) -> tuple[Job, list[JobEvent]]:
    _check_transition(job, JobStatus.CANCELLED, "cancel")
    cancelled = edited.moved_to(JobStatus.CANCELLED, now)
    attempt = job.attempts if job.status is JobStatus.RUNNING else None
    return cancelled, [_event(job, EventKind.CANCELLED, actor, now, attempt=attempt)]
