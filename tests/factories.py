"""Test factories: job requests and jobs in a given state, through the real manager."""

from __future__ import annotations

from typing import Any

from scrapejobs.jobs import Job
from scrapejobs.manager import JobManager
from scrapejobs.schemas import JobCreate, JobUpdate


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
