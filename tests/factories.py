"""Test factories: job requests and jobs in a given state, through the real manager."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from scrapejobs.jobs import Job, JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.schemas import JobCreate, JobUpdate

if TYPE_CHECKING:
    from tests.conftest import Clock


def job_request(**fields: Any) -> JobCreate:
    return JobCreate.model_validate({"domain": "example.com", **fields})


async def running_job(manager: JobManager, worker_id: str = "w1", **fields: Any) -> Job:
    job, _ = await manager.create_job(job_request(**fields))
    claimed = await manager.claim_next(worker_id)
    assert claimed is not None and claimed.id == job.id
    return claimed


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
    report = JobUpdate(status="failed", error_message=message, workerId="w1")
    return await manager.update_job(job.id, report)


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
            report = JobUpdate(status="completed", workerId="w1")
        else:
            failure = {"error_message": outcome, "errorType": outcome}
            report = JobUpdate.model_validate({"status": "failed", "workerId": "w1", **failure})
        job = await manager.update_job(job.id, report)
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
