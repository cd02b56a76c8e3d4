"""Transitions: given a job as read and what happened, the job to write and its events.

Pure domain code, one function per step of ``jobs.py``'s state diagram. The
manager reads a job, calls one of these, and saves the result with one
conditional update; the in-memory store and the SQL store both use
:func:`claimed` for the claim they perform themselves. A step that the job's
state does not allow raises (``InvalidRequest``, ``LeaseLost``) before
anything is written. A worker's step names the lease it holds by its token
(``scrapejobs.leases``); a claim makes a new one.

Every step returns ``(job, events)``: the events are the history rows the
store writes in the same transaction.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from scrapejobs.errors import InvalidField, InvalidRequest
from scrapejobs.events import EventKind, JobEvent
from scrapejobs.failures import MAX_RETRY_AFTER, ErrorType, Failure
from scrapejobs.jobs import (
    DEFAULT_CONFIG,
    Job,
    JobStatus,
    can_transition,
    check_metadata_size,
    timestamp,
)
from scrapejobs.leases import check_lease, check_report
from scrapejobs.retry import GiveUp, RetryPlan, RetryPolicy
from scrapejobs.sites import Site

__all__ = [
    "Change",
    "JobEdit",
    "cancelled",
    "claimed",
    "completed",
    "created",
    "edited",
    "failed",
    "heartbeat",
    "lease_expired",
    "released",
    "retried",
    "started",
]

Change = tuple[Job, list[JobEvent]]


@dataclass(frozen=True, slots=True)
class JobEdit:
    """What an operator may change on a job; None leaves a field as it is.

    ``config`` is a patch: its keys replace the job's, and a None value
    restores the default (or removes a key without one, such as ``startUrl``).
    ``metadata`` is merged into the user's metadata.
    """

    priority: int | None = None
    max_retries: int | None = None
    config: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None

    def details(self) -> dict[str, Any]:
        """The edit as the ``updated`` event records it."""
        fields = {
            "priority": self.priority,
            "max_retries": self.max_retries,
            "config": dict(self.config) if self.config is not None else None,
            "metadata": dict(self.metadata) if self.metadata is not None else None,
        }
        return {name: value for name, value in fields.items() if value is not None}

    def applied_to(self, job: Job, now: datetime) -> Job:
        changes: dict[str, Any] = {"updated_at": now}
        if self.priority is not None:
            changes["priority"] = self.priority
        if self.max_retries is not None:
            changes["max_retries"] = self.max_retries
        if self.config is not None:
            changes["config"] = _merge_config(job.config, self.config)
        if self.metadata is not None:
            merged = {**job.metadata, **self.metadata}
            try:
                check_metadata_size(merged)
            except ValueError as exc:
                raise InvalidField("metadata", f"merged metadata {exc}") from exc
            changes["metadata"] = merged
        return replace(job, **changes)


def _merge_config(config: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**config, **patch}
    for key, value in patch.items():
        if value is None:
            if key in DEFAULT_CONFIG:
                merged[key] = DEFAULT_CONFIG[key]
            else:
                del merged[key]
    return merged


_STATUS_OF_EVENT = {
    EventKind.CREATED: JobStatus.PENDING,
    EventKind.STARTED: JobStatus.RUNNING,
    EventKind.COMPLETED: JobStatus.COMPLETED,
    EventKind.FAILED: JobStatus.FAILED,
    EventKind.RETRIED: JobStatus.PENDING,
    EventKind.RELEASED: JobStatus.PENDING,
    EventKind.WAITING: JobStatus.PENDING,
    EventKind.CANCELLED: JobStatus.CANCELLED,
}


def _event(
    job: Job,
    kind: EventKind,
    actor: str,
    now: datetime,
    *,
    attempt: int | None = None,
    failure: Failure | None = None,
    details: dict[str, Any] | None = None,
) -> JobEvent:
    """An event about ``job`` (as it was before the step), moving it as ``kind`` says."""
    return JobEvent(
        job_id=job.id,
        at=now,
        event=kind,
        actor=actor,
        retry_count=job.retry_count,
        from_status=job.status if kind is not EventKind.CREATED else None,
        to_status=_STATUS_OF_EVENT.get(kind),
        attempt=attempt,
        error_message=failure.message if failure else None,
        error_type=failure.error_type.value if failure else None,
        failure_pattern=failure.pattern.value if failure else None,
        http_status=failure.http_status if failure else None,
        details=details,
    )


def _check_transition(job: Job, target: JobStatus, step: str) -> None:
    if not can_transition(job.status, target, step):
        raise InvalidRequest(
            f"Job cannot go from '{job.status.value}' to '{target.value}'",
            {"currentStatus": job.status.value, "requestedStatus": target.value},
        )


def created(job: Job, actor: str) -> JobEvent:
    return _event(job, EventKind.CREATED, actor, job.created_at)


def edited(job: Job, edit: JobEdit, actor: str, now: datetime) -> Change:
    """An operator's edit of a job in any state."""
    return edit.applied_to(job, now), [
        _event(job, EventKind.UPDATED, actor, now, details=edit.details())
    ]


def claimed(
    job: Job, worker_id: str, now: datetime, lease_until: datetime, lease_token: str
) -> Change:
    """A worker takes a due pending job: a new attempt starts, under a new lease."""
    running = replace(
        job,
        status=JobStatus.RUNNING,
        attempts=job.attempts + 1,
        worker_id=worker_id,
        lease_expires_at=lease_until,
        lease_token=lease_token,
        started_at=now,
        updated_at=now,
    )
    return running, [started(running)]


def started(running: Job) -> JobEvent:
    """The ``started`` event of a job just claimed (for a store that claims in one statement)."""
    assert running.started_at is not None and running.worker_id is not None
    return JobEvent(
        job_id=running.id,
        at=running.started_at,
        event=EventKind.STARTED,
        actor=running.worker_id,
        retry_count=running.retry_count,
        from_status=JobStatus.PENDING,
        to_status=JobStatus.RUNNING,
        attempt=running.attempts,
        # A claim takes only due jobs (scheduled_at <= now), and does not move scheduled_at.
        queue_wait=max((running.started_at - running.scheduled_at).total_seconds(), 0.0),
    )


def heartbeat(
    job: Job, lease_token: str | None, worker_id: str | None, now: datetime, lease_until: datetime
) -> Change:
    check_lease(job, lease_token, worker_id)
    return replace(job, lease_expires_at=lease_until, updated_at=now), []


def released(
    job: Job,
    worker_id: str,
    lease_token: str | None,
    now: datetime,
    reason: str | None = None,
    seconds: float = 0,
) -> Change:
    """A worker gives its job back, no retry spent: ``pending``, due in ``seconds``.

    It is stopping, or (``reason``) the job's site is held back: paused, or
    cooling down for longer than a crawl waits.
    """
    check_lease(job, lease_token, worker_id)
    due = now + timedelta(seconds=min(seconds, MAX_RETRY_AFTER)) if seconds > 0 else now
    again = job.moved_to(JobStatus.PENDING, now, scheduled_at=due)
    details = {"reason": reason} if reason else None
    return again, [
        _event(job, EventKind.RELEASED, worker_id, now, attempt=job.attempts, details=details)
    ]


def _reporter(job: Job, worker_id: str | None, lease_token: str | None, target: JobStatus) -> str:
    """Who reports the attempt; a running job's report must hold its lease (its token)."""
    check_report(job, lease_token, worker_id)
    _check_transition(job, target, "report")
    return worker_id or job.worker_id or "api"


MAX_NOTE_LENGTH = 2_000


def completed(
    job: Job,
    worker_id: str | None,
    lease_token: str | None,
    now: datetime,
    edit: JobEdit | None = None,
    note: str | None = None,
) -> Change:
    """The attempt succeeded: the job no longer carries a failure (its events keep them).

    ``note`` says what the attempt did not cover and why (a deadline, a
    sitemap read in part); it is kept on the attempt.
    """
    actor = _reporter(job, worker_id, lease_token, JobStatus.COMPLETED)
    base = edit.applied_to(job, now) if edit else job
    done = base.moved_to(JobStatus.COMPLETED, now, failure=None, no_retry_reason=None, site_waits=0)
    details = {"note": note[:MAX_NOTE_LENGTH]} if note else None
    return done, [
        _event(job, EventKind.COMPLETED, actor, now, attempt=job.attempts, details=details)
    ]


def failed(
    job: Job,
    failure: Failure,
    worker_id: str | None,
    lease_token: str | None,
    now: datetime,
    *,
    policy: RetryPolicy,
    rng: random.Random,
    edit: JobEdit | None = None,
    site: Site | None = None,
) -> Change:
    """The attempt failed: record the failure, then retry or give up as the policy decides.

    ``lease_token``: the running job's (``scrapejobs.leases``). ``site``: the job's site as
    this failure left it; when it holds its jobs back (a cooldown, an open
    circuit) the job waits for it instead, no retry spent.
    """
    actor = _reporter(job, worker_id, lease_token, JobStatus.FAILED)
    return _failed(job, failure, actor, now, policy, rng, edit, site)


def lease_expired(job: Job, now: datetime, *, policy: RetryPolicy, rng: random.Random) -> Change:
    """The worker stopped renewing its lease: the attempt failed as ``worker_lost``."""
    _check_transition(job, JobStatus.FAILED, "report")
    expiry = timestamp(job.lease_expires_at) if job.lease_expires_at else "unknown"
    failure = Failure(
        ErrorType.WORKER_LOST, f"Worker {job.worker_id} lost: lease expired at {expiry}"
    )
    return _failed(job, failure, "system", now, policy, rng, None, None)


def _failed(
    job: Job,
    failure: Failure,
    actor: str,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
    edit: JobEdit | None,
    site: Site | None,
) -> Change:
    failure = failure.recorded()
    base = edit.applied_to(job, now) if edit else job
    failed_job = base.moved_to(JobStatus.FAILED, now, failure=failure, no_retry_reason=None)
    event = _event(job, EventKind.FAILED, actor, now, attempt=job.attempts, failure=failure)
    cooldowns = job.config.get("respectRetryAfter", True)
    wait = site.wait_for(failure, now, cooldowns=cooldowns) if site is not None else None
    if wait is not None and job.site_waits < policy.free_waits:
        return _waiting(failed_job, event, *wait, now, policy)
    failed_job = replace(failed_job, site_waits=0)
    decision = policy.decide(failed_job, now=now, rng=rng)
    if isinstance(decision, GiveUp):
        return replace(failed_job, no_retry_reason=decision.reason), [event]
    again, retry_events = retried(failed_job, decision, now)
    return again, [event, *retry_events]


def _waiting(
    failed_job: Job,
    failed_event: JobEvent,
    until: datetime,
    reason: str,
    now: datetime,
    policy: RetryPolicy,
) -> Change:
    """An attempt stopped by its site (a cooldown, an open circuit): re-queued for
    the end of the wait, no retry spent.

    The config is adjusted for the failure as a retry would adjust it (a 429:
    one connection, a delay).
    """
    error_type = failed_job.failure.error_type if failed_job.failure else None
    again = failed_job.moved_to(
        JobStatus.PENDING,
        now,
        scheduled_at=until,
        site_waits=failed_job.site_waits + 1,
        config=policy.adjust_config(failed_job.config, error_type, failed_job.user_agent_rotations),
    )
    details = {"reason": f"{failed_job.site} is {reason}", "until": timestamp(until)}
    waiting = _event(failed_job, EventKind.WAITING, "system", now, details=details)
    return again, [failed_event, waiting]


def retried(job: Job, plan: RetryPlan, now: datetime) -> Change:
    """``failed -> pending`` with ``retry_count + 1``, in one step (CONTRACT section 5).

    The job keeps the failure its retry answers until the next attempt ends.
    """
    again = job.moved_to(
        JobStatus.PENDING,
        now,
        retry_count=plan.retry_count,
        scheduled_at=plan.scheduled_at,
        config=plan.config,
        last_retry=plan.last_retry,
        user_agent_rotations=plan.user_agent_rotations,
        no_retry_reason=None,
    )
    details = {
        "reason": plan.reason,
        "scheduledAt": timestamp(plan.scheduled_at),
        "configChanges": {k: v for k, v in plan.config.items() if job.config.get(k) != v},
    }
    actor = plan.last_retry.retried_by
    # The retry row names the failure it answers, so analytics can group retries by it.
    event = _event(job, EventKind.RETRIED, actor, now, failure=job.failure, details=details)
    return again, [replace(event, retry_count=plan.retry_count)]


def cancelled(job: Job, actor: str, now: datetime, edit: JobEdit | None = None) -> Change:
    """An operator stops a pending or running job for good; a running one loses its lease."""
    _check_transition(job, JobStatus.CANCELLED, "cancel")
    base = edit.applied_to(job, now) if edit else job
    attempt = job.attempts if job.status is JobStatus.RUNNING else None
    return base.moved_to(JobStatus.CANCELLED, now), [
        _event(job, EventKind.CANCELLED, actor, now, attempt=attempt)
    ]
