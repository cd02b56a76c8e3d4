"""Test factories: jobs as plain values, job requests, and jobs in a state through the manager."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapejobs.failures import ErrorType, Failure, classify
from scrapejobs.jobs import DEFAULT_CONFIG, Job, JobStatus, JobType
from scrapejobs.manager import JobManager
from scrapejobs.schemas import JobCreate

if TYPE_CHECKING:
    from tests.conftest import Clock


CREATED = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)


def build_job(**changes: Any) -> Job:
    """A job as a plain value, for pure code: pending on example.com unless ``changes`` say."""
    job = Job(
        id="123e4567-e89b-12d3-a456-426614174000",
        domain="example.com",
        job_type=JobType.DOMAIN_SCRAPE,
        status=JobStatus.PENDING,
        priority=5,
        retry_count=0,
        max_retries=3,
        config=dict(DEFAULT_CONFIG),
        metadata={"source": "api"},
        created_at=CREATED,
        updated_at=CREATED,
        scheduled_at=CREATED,
    )
    return replace(job, **changes)


def job_request(**fields: Any) -> JobCreate:
    return JobCreate.model_validate({"domain": "example.com", **fields})


async def running_job(manager: JobManager, worker_id: str = "w1", **fields: Any) -> Job:
    job, _ = await manager.create_job(job_request(**fields))
    claimed = await manager.claim_next(worker_id)
    assert claimed is not None and claimed.id == job.id
    return claimed


async def token_of(manager: JobManager, job_id: str) -> str | None:
    """The lease token of the job's running attempt, as its claim returned it."""
    return (await manager.get_job(job_id)).lease_token


async def fail_running(
    manager: JobManager, job_id: str, failure: Failure, *, worker_id: str = "w1", **options: Any
) -> Job:
    """Report the running attempt failed, as its worker would: under its lease token."""
    token = await token_of(manager, job_id)
    return await manager.fail_attempt(
        job_id, failure, worker_id=worker_id, lease_token=token, **options
    )


async def complete_running(
    manager: JobManager, job_id: str, *, worker_id: str = "w1", **options: Any
) -> Job:
    """Report the running attempt completed, as its worker would: under its lease token."""
    token = await token_of(manager, job_id)
    return await manager.complete_attempt(job_id, worker_id=worker_id, lease_token=token, **options)


async def failed_job(
    manager: JobManager,
    message: str = "Request timeout",
    *,
    auto_retry: bool = False,
    **fields: Any,
) -> Job:
    """A job whose attempt failed and stays failed (autoRetry off unless asked)."""
    config = {"autoRetry": auto_retry, **fields.pop("config", {})}
    job = await running_job(manager, config=config, **fields)
    return await manager.fail_attempt(
        job.id, classify(message), worker_id="w1", lease_token=job.lease_token
    )


OK = "ok"
RETRY = "retry"


async def history(
    manager: JobManager,
    clock: Clock,
    domain: str,
    outcomes: Sequence[str],
    *,
    job_type: str = "domain_scrape",
) -> Job:
    """One job through ``outcomes``: each is an attempt (``ok`` or an errorType); a
    failed attempt is retried by hand before the next one; ``retry`` only retries."""
    request = job_request(domain=domain, job_type=job_type, config={"autoRetry": False})
    job, _ = await manager.create_job(request)
    for outcome in outcomes:
        clock.advance(60)
        if job.status is JobStatus.FAILED:
            job = await manager.retry_job(job.id)
        if outcome == RETRY:
            break
        claimed = await manager.claim_next("w1")
        assert claimed is not None and claimed.id == job.id
        if outcome == OK:
            job = await manager.complete_attempt(
                job.id, worker_id="w1", lease_token=claimed.lease_token
            )
        else:
            failure = Failure(ErrorType(outcome), outcome)
            job = await manager.fail_attempt(
                job.id, failure, worker_id="w1", lease_token=claimed.lease_token
            )
    return job


# A response `data` of GET /api/scrape-jobs/stats, for the views that render one.
STATS_REPORT: dict[str, Any] = {
    "scope": {"domain": None, "since": None, "job_type": None},
    "generatedAt": "2026-11-28T17:40:00.000Z",
    "jobs": {
        "total": 12,
        "byStatus": {"pending": 1, "running": 0, "completed": 7, "failed": 3, "cancelled": 1},
    },
    "retryMetrics": {
        "totalRetries": 9,
        "retrySuccessRate": 0.6667,
        "avgRetriesPerJob": 1.8,
        "retrysByErrorType": {"timeout": 4, "rate_limited": 3},
        "retryEffectiveness": {
            "firstRetrySuccess": 0.5,
            "secondRetrySuccess": 0.3333,
            "thirdRetrySuccess": None,
        },
    },
    "failureAnalysis": {
        "mostRetriedDomains": [{"domain": "a.example", "retries": 5, "retriedJobs": 3}],
        "commonFailurePatterns": [
            {"failurePattern": "network_connectivity", "failures": 6, "share": 0.5}
        ],
        "retryEffectiveness": [{"retry": 1, "finished": 4, "succeeded": 2, "successRate": 0.5}],
        "recommendations": [
            {
                "type": "configuration",
                "message": "Consider increasing default timeout values",
                "impact": "high",
                "evidence": {"timeoutFailures": 4, "failures": 6, "share": 0.6667},
            }
        ],
    },
}
