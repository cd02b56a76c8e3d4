"""The use cases end to end on real databases: reports, the retry policy, leases, idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scrapejobs.errors import (
    InvalidRequest,
    JobConflict,
    JobNotFound,
    LeaseLost,
    RetryNotAllowed,
)
from scrapejobs.jobs import DEFAULT_USER_AGENT, JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.schemas import BulkRetryRequest, JobConfig, JobUpdate
from scrapejobs.storage import JobFilter
from tests.conftest import Clock
from tests.factories import failed_job, job_request, running_job


def report(status: str, **fields: object) -> JobUpdate:
    return JobUpdate.model_validate({"status": status, "workerId": "w1", **fields})


async def test_timeout_is_retried_automatically_with_a_longer_timeout(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager)
    retried = await manager.update_job(job.id, report("failed", error_message="Request timeout"))
    assert retried.status is JobStatus.PENDING
    assert retried.retry_count == 1
    assert retried.error_message is None
    assert retried.config["timeout"] == 45000
    assert clock.now + timedelta(seconds=48) <= retried.scheduled_at
    assert retried.scheduled_at <= clock.now + timedelta(seconds=72)
    assert retried.metadata["retryReason"] == "Automatic retry after timeout error"
    assert retried.metadata["lastError"] == "Request timeout"
    assert retried.metadata["retriedBy"] == "system"
    assert retried.metadata["retriedAt"] == "2024-01-01T12:00:00.000Z"
    assert retried.metadata["failurePattern"] == "network_connectivity"
    [attempt] = await manager.get_attempts(job.id)
    assert (attempt.attempt, attempt.outcome, attempt.errorType, attempt.workerId) == (
        1,
        "failed",
        "timeout",
        "w1",
    )


async def test_not_found_is_not_retried_automatically(manager: JobManager) -> None:
    job = await running_job(manager)
    failed = await manager.update_job(
        job.id, report("failed", error_message="Not Found", httpStatus=404)
    )
    assert failed.status is JobStatus.FAILED
    assert failed.retry_count == 0
    assert failed.error_message == "Not Found"
    assert failed.metadata["errorType"] == "not_found"
    assert failed.metadata["failurePattern"] == "content_missing"
    assert failed.metadata["httpStatus"] == 404
    assert failed.metadata["noRetryReason"] == "not_found errors are not retried automatically"
    # A person may still retry it: the site may have been fixed.
    retried = await manager.retry_job(job.id)
    assert retried.status is JobStatus.PENDING and retried.retry_count == 1
    assert "noRetryReason" not in retried.metadata


async def test_rate_limit_waits_for_retry_after_and_slows_down(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager)
    retried = await manager.update_job(
        job.id, report("failed", error_message="Too Many Requests", httpStatus=429, retryAfter=1200)
    )
    assert retried.scheduled_at >= clock.now + timedelta(seconds=1200)
    assert retried.config["maxConcurrentRequests"] == 1
    assert retried.config["delay"] == 2000
    assert retried.config["respectRetryAfter"] is True


async def test_retries_stop_at_max_retries(manager: JobManager, clock: Clock) -> None:
    job = await running_job(manager, max_retries=1)
    await manager.update_job(job.id, report("failed", errorType="connection_refused"))
    clock.advance(3600)
    again = await manager.claim_next("w1")
    assert again is not None and again.id == job.id and again.retry_count == 1
    final = await manager.update_job(job.id, report("failed", errorType="connection_refused"))
    assert final.status is JobStatus.FAILED
    assert final.metadata["noRetryReason"] == "Job has exceeded maximum retry attempts"
    with pytest.raises(RetryNotAllowed) as refused:
        await manager.retry_job(job.id)
    assert refused.value.message == "Job has exceeded maximum retry attempts"
    assert refused.value.details == {
        "jobId": job.id,
        "currentRetries": 1,
        "maxRetries": 1,
        "lastError": "Job failed",
        "failurePattern": "network_connectivity",
    }


async def test_forbidden_is_retried_once_with_another_user_agent(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager)
    first = await manager.update_job(job.id, report("failed", httpStatus=403))
    assert first.status is JobStatus.PENDING
    assert first.config["userAgent"] != DEFAULT_USER_AGENT
    clock.advance(3600)
    assert await manager.claim_next("w1") is not None
    second = await manager.update_job(job.id, report("failed", httpStatus=403))
    assert second.status is JobStatus.FAILED
    assert "another user agent" in second.metadata["noRetryReason"]


async def test_completed_report_clears_the_lease(manager: JobManager, clock: Clock) -> None:
    job = await running_job(manager)
    done = await manager.update_job(job.id, report("completed"))
    assert done.status is JobStatus.COMPLETED
    assert (done.completed_at, done.worker_id, done.lease_expires_at) == (clock.now, None, None)
    [attempt] = await manager.get_attempts(job.id)
    assert attempt.outcome == "completed"


async def test_report_from_a_worker_without_the_lease_changes_nothing(
    manager: JobManager,
) -> None:
    job = await running_job(manager, worker_id="w1")
    with pytest.raises(LeaseLost):
        await manager.update_job(job.id, JobUpdate(status="completed", workerId="w2"))
    unchanged = await manager.get_job(job.id)
    assert unchanged == job


async def test_operator_report_without_worker_id_is_accepted(manager: JobManager) -> None:
    job = await running_job(manager)
    done = await manager.update_job(job.id, JobUpdate(status="completed"))
    assert done.status is JobStatus.COMPLETED


async def test_heartbeat_extends_the_lease_only_for_its_holder(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager, worker_id="w1")
    clock.advance(50)
    renewed = await manager.heartbeat(job.id, "w1", lease_seconds=120)
    assert renewed.lease_expires_at == clock.now + timedelta(seconds=120)
    with pytest.raises(LeaseLost):
        await manager.heartbeat(job.id, "w2")


async def test_expired_lease_fails_the_job_as_worker_lost_and_retries_it(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager, worker_id="w1")
    clock.advance(59)
    assert await manager.reap_expired_leases() == []
    clock.advance(2)
    [reaped] = await manager.reap_expired_leases()
    assert reaped.id == job.id
    assert reaped.status is JobStatus.PENDING and reaped.retry_count == 1
    assert reaped.metadata["errorType"] == "worker_lost"
    assert reaped.metadata["failurePattern"] == "infrastructure"
    [attempt] = await manager.get_attempts(job.id)
    assert attempt.outcome == "failed" and attempt.errorType == "worker_lost"
    # The lost worker comes back and reports: refused, nothing changes.
    with pytest.raises(LeaseLost):
        await manager.update_job(job.id, report("completed"))
    assert (await manager.get_job(job.id)).status is JobStatus.PENDING


async def test_heartbeat_in_time_keeps_the_job_from_the_reaper(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager, worker_id="w1")
    clock.advance(55)
    await manager.heartbeat(job.id, "w1")
    clock.advance(55)
    assert await manager.reap_expired_leases() == []
    assert (await manager.get_job(job.id)).status is JobStatus.RUNNING


async def test_cancelling_a_running_job_revokes_its_lease(manager: JobManager) -> None:
    job = await running_job(manager, worker_id="w1")
    cancelled = await manager.cancel_job(job.id)
    assert cancelled.status is JobStatus.CANCELLED
    with pytest.raises(LeaseLost):
        await manager.heartbeat(job.id, "w1")
    [attempt] = await manager.get_attempts(job.id)
    assert attempt.outcome == "cancelled"


async def test_cancelled_and_completed_jobs_cannot_be_cancelled(manager: JobManager) -> None:
    job = await running_job(manager)
    await manager.update_job(job.id, report("completed"))
    with pytest.raises(InvalidRequest):
        await manager.cancel_job(job.id)


async def test_manual_retry_is_one_atomic_step(manager: JobManager, clock: Clock) -> None:
    job = await failed_job(manager, "Request timeout")
    clock.advance(10)
    retried = await manager.retry_job(job.id, actor="ops-key")
    assert retried.status is JobStatus.PENDING
    assert retried.retry_count == 1
    assert retried.error_message is None
    assert retried.scheduled_at == clock.now
    assert retried.config["timeout"] == 45000
    assert retried.metadata["retriedBy"] == "ops-key"
    assert retried.metadata["retryReason"] == "Manual retry after timeout error"
    assert retried.metadata["lastError"] == "Request timeout"
    assert retried.metadata["source"] == "api"


async def test_manual_retry_with_a_delay(manager: JobManager, clock: Clock) -> None:
    job = await failed_job(manager)
    retried = await manager.retry_job(job.id, delay_seconds=90)
    assert retried.scheduled_at == clock.now + timedelta(seconds=90)


async def test_retry_of_unknown_or_malformed_ids_is_not_found(manager: JobManager) -> None:
    for job_id in ("123e4567-e89b-12d3-a456-426614174000", "not-a-uuid", ""):
        with pytest.raises(JobNotFound):
            await manager.retry_job(job_id)


async def test_idempotency_key_returns_the_first_job(manager: JobManager) -> None:
    first, created = await manager.create_job(job_request(priority=7), idempotency_key="k1")
    again, created_again = await manager.create_job(job_request(priority=7), idempotency_key="k1")
    assert created and not created_again
    assert again.id == first.id
    with pytest.raises(JobConflict):
        await manager.create_job(job_request(priority=8), idempotency_key="k1")
    _, total = await manager.list_jobs(JobFilter())
    assert total == 1


async def test_config_patch_merges_and_null_restores_the_default(manager: JobManager) -> None:
    job, _ = await manager.create_job(
        job_request(config={"depth": 1, "startUrl": "https://e.com/a"})
    )
    patched = await manager.update_job(
        job.id, JobUpdate(config=JobConfig.model_validate({"depth": None, "startUrl": None}))
    )
    assert patched.config["depth"] == 3
    assert "startUrl" not in patched.config
    assert patched.config["maxPages"] == 100


async def test_bulk_retry_by_domain_and_by_pattern(manager: JobManager) -> None:
    a = await failed_job(manager, "Request timeout", domain="a.com")
    b = await failed_job(manager, "HTTP 404 Not Found", domain="a.com")
    c = await failed_job(manager, "Request timeout", domain="c.com")
    exhausted = await failed_job(manager, "Request timeout", domain="c.com", max_retries=0)

    by_domain = await manager.bulk_retry(BulkRetryRequest(domain="a.com"))
    assert {(r.jobId, r.success) for r in by_domain} == {(a.id, True), (b.id, True)}

    by_pattern = await manager.bulk_retry(BulkRetryRequest(failurePattern="network_connectivity"))
    assert {(r.jobId, r.success) for r in by_pattern} == {(c.id, True), (exhausted.id, False)}
    refused = next(r for r in by_pattern if not r.success)
    assert refused.message == "Job has exceeded maximum retry attempts"
