"""Domain values to table rows and back: jobs and their events."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from scrapejobs.events import EventKind, JobEvent
from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import Job, JobStatus, JobType, LastRetry
from scrapejobs.sites import Site

__all__ = ["event_from_row", "event_values", "job_from_row", "job_values", "site_from_row"]


def job_values(job: Job) -> dict[str, Any]:
    failure, retry = job.failure, job.last_retry
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
        "failure_message": failure.message if failure else None,
        "failure_pattern": failure.pattern.value if failure else None,
        "error_type": failure.error_type.value if failure else None,
        "http_status": failure.http_status if failure else None,
        "retry_after": failure.retry_after if failure else None,
        "no_retry_reason": job.no_retry_reason,
        "user_agent_rotations": job.user_agent_rotations,
        "retry_reason": retry.reason if retry else None,
        "last_error": retry.last_error if retry else None,
        "retried_at": retry.retried_at if retry else None,
        "retried_by": retry.retried_by if retry else None,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "scheduled_at": job.scheduled_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "attempts": job.attempts,
        "worker_id": job.worker_id,
        "lease_expires_at": job.lease_expires_at,
        "lease_token": job.lease_token,
        "version": job.version,
        "site": job.site,
        "site_waits": job.site_waits,
    }


def _failure(m: Any) -> Failure | None:
    if m["error_type"] is None:
        return None
    error_type = ErrorType(m["error_type"])
    return Failure(error_type, m["failure_message"] or "", m["http_status"], m["retry_after"])


def _last_retry(m: Any) -> LastRetry | None:
    if m["retried_at"] is None:
        return None
    return LastRetry(m["retry_reason"] or "", m["last_error"], m["retried_at"], m["retried_by"])


def job_from_row(row: sa.Row[Any]) -> Job:
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
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        scheduled_at=m["scheduled_at"],
        started_at=m["started_at"],
        completed_at=m["completed_at"],
        attempts=m["attempts"],
        worker_id=m["worker_id"],
        lease_expires_at=m["lease_expires_at"],
        lease_token=m["lease_token"],
        version=m["version"],
        failure=_failure(m),
        no_retry_reason=m["no_retry_reason"],
        user_agent_rotations=m["user_agent_rotations"],
        last_retry=_last_retry(m),
        site_waits=m["site_waits"],
    )


# Columns of job_events that are not fields of JobEvent.
SITE_FIELDS = (
    "site",
    "updated_at",
    "cooldown_until",
    "cooldown_reason",
    "failure_streak",
    "breaker_until",
    "breaker_trips",
    "breaker_reason",
    "probe_job_id",
    "probe_until",
    "max_requests_per_second",
    "max_concurrent_requests",
    "crawl_delay",
    "adaptive_rate",
    "rate_before",
    "rate_changed_at",
    "slowed_at",
)
_EVENT_ONLY_COLUMNS = ("id", "domain", "job_type", "job_created_at")


def event_from_row(row: sa.Row[Any]) -> JobEvent:
    m = dict(row._mapping)
    for column in _EVENT_ONLY_COLUMNS:
        m.pop(column)
    m["event"] = EventKind(m["event"])
    m["from_status"] = JobStatus(m["from_status"]) if m["from_status"] else None
    m["to_status"] = JobStatus(m["to_status"]) if m["to_status"] else None
    return JobEvent(**m)


def event_values(event: JobEvent, job: Job) -> dict[str, Any]:
    values = asdict(event)
    values["details"] = dict(event.details) if event.details is not None else None
    # Copies of the job's fixed dimensions, so that analytics filter without a join.
    return values | {
        "domain": job.domain,
        "job_type": job.job_type.value,
        "job_created_at": job.created_at,
    }


def site_from_row(row: sa.Row[Any]) -> Site:
    m = row._mapping
    return Site(**{name: m[name] for name in SITE_FIELDS}, paused=bool(m["paused"]))


def site_values(site: Site) -> dict[str, Any]:
    """The ``sites`` row of a site (every column)."""
    return {name: getattr(site, name) for name in (*SITE_FIELDS, "paused")}
