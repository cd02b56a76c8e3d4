"""The manager's rules: reports, the retry policy, leases, claims, bulk retry, the reaper.

Here they run on the in-memory store, in milliseconds; ``tests/integration/
test_manager.py`` runs the very same functions on SQLite and PostgreSQL. A
scenario goes through the manager only; ``store`` is there to look at what
was written.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from scrapejobs.errors import (
    InvalidField,
    InvalidRequest,
    JobConflict,
    JobNotFound,
    LeaseLost,
    RetryNotAllowed,
)
from scrapejobs.events import EventKind
from scrapejobs.failures import ErrorType, Failure, FailurePattern, classify
from scrapejobs.jobs import DEFAULT_USER_AGENT, JobStatus, normalize_domain
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.schemas import BulkRetryRequest
from scrapejobs.store import Store
from scrapejobs.transitions import JobEdit
from tests.conftest import Clock
from tests.factories import (
    complete_running,
    fail_running,
    failed_job,
    job_request,
    running_job,
)

TIMEOUT = Failure(ErrorType.TIMEOUT, "Request timeout")
REFUSED = Failure(ErrorType.CONNECTION_REFUSED, "Connection refused")


# -- the worker's outcomes and the retry policy -----------------------------------


async def test_timeout_is_retried_automatically_with_a_longer_timeout(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager)
    retried = await fail_running(manager, job.id, TIMEOUT, worker_id="w1")
    assert retried.status is JobStatus.PENDING
    assert retried.retry_count == 1
    assert retried.error_message is None
    assert retried.config["timeout"] == 45000
    assert clock.now + timedelta(seconds=48) <= retried.scheduled_at
    assert retried.scheduled_at <= clock.now + timedelta(seconds=72)
    assert retried.last_retry is not None
    assert retried.last_retry.reason == "Automatic retry after timeout error"
    assert retried.last_retry.last_error == "Request timeout"
    assert retried.last_retry.retried_by == "system"
    assert retried.last_retry.retried_at == clock.now
    # The retried job shows the failure its retry answers.
    assert retried.failure == TIMEOUT
    assert retried.failure_pattern is FailurePattern.NETWORK_CONNECTIVITY
    [attempt] = await manager.get_attempts(job.id)
    assert (attempt.attempt, attempt.outcome, attempt.errorType, attempt.workerId) == (
        1,
        "failed",
        "timeout",
        "w1",
    )


async def test_not_found_is_not_retried_automatically(manager: JobManager) -> None:
    job = await running_job(manager)
    failed = await fail_running(manager, job.id, classify("Not Found", http_status=404))
    assert failed.status is JobStatus.FAILED
    assert failed.retry_count == 0
    assert failed.error_message == "Not Found"
    assert failed.failure == Failure(ErrorType.NOT_FOUND, "Not Found", 404)
    assert failed.failure_pattern is FailurePattern.CONTENT_MISSING
    assert failed.no_retry_reason == "not_found errors are not retried automatically"
    # A person may still retry it: the site may have been fixed.
    retried = await manager.retry_job(job.id)
    assert retried.status is JobStatus.PENDING and retried.retry_count == 1
    assert retried.no_retry_reason is None


async def test_rate_limit_without_retry_after_is_retried_and_slows_down(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager)
    limited = classify("Too Many Requests", http_status=429)
    retried = await fail_running(manager, job.id, limited, worker_id="w1")
    assert retried.retry_count == 1
    assert retried.scheduled_at >= clock.now + timedelta(seconds=48)
    assert retried.config["maxConcurrentRequests"] == 1
    assert retried.config["delay"] == 2000
    assert retried.config["respectRetryAfter"] is True


async def test_a_failure_is_recorded_as_a_store_can_keep_it(manager: JobManager) -> None:
    """A crawler's failure goes in as it is; the domain bounds it, not the worker."""
    job = await running_job(manager, config={"autoRetry": False})
    raw = Failure(ErrorType.SERVER_ERROR, "boom\x00" + "x" * 20_000, 500, retry_after=1e12)
    failed = await fail_running(manager, job.id, raw, worker_id="w1")
    assert failed.failure is not None
    assert failed.failure.message == ("boom" + "x" * 20_000)[:10_000]
    assert failed.failure.retry_after == 86_400


async def test_retries_stop_at_max_retries(manager: JobManager, clock: Clock) -> None:
    job = await running_job(manager, max_retries=1)
    await fail_running(manager, job.id, REFUSED, worker_id="w1")
    clock.advance(3600)
    again = await manager.claim_next("w1")
    assert again is not None and again.id == job.id and again.retry_count == 1
    final = await fail_running(manager, job.id, REFUSED, worker_id="w1")
    assert final.status is JobStatus.FAILED and final.retries_exhausted
    assert final.no_retry_reason == "Job has exceeded maximum retry attempts"
    with pytest.raises(RetryNotAllowed) as refused:
        await manager.retry_job(job.id)
    assert refused.value.message == "Job has exceeded maximum retry attempts"
    assert refused.value.details == {
        "jobId": job.id,
        "currentRetries": 1,
        "maxRetries": 1,
        "lastError": "Connection refused",
        "failurePattern": "network_connectivity",
    }


async def test_forbidden_is_retried_once_with_another_user_agent(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager)
    forbidden = classify("Forbidden", http_status=403)
    first = await fail_running(manager, job.id, forbidden, worker_id="w1")
    assert first.status is JobStatus.PENDING
    assert first.config["userAgent"] != DEFAULT_USER_AGENT
    assert first.user_agent_rotations == 1
    clock.advance(3600)
    assert await manager.claim_next("w1") is not None
    second = await fail_running(manager, job.id, forbidden, worker_id="w1")
    assert second.status is JobStatus.FAILED
    assert second.no_retry_reason is not None and "another user agent" in second.no_retry_reason


async def test_completing_clears_the_failure_and_the_lease(
    manager: JobManager, clock: Clock
) -> None:
    job = await failed_job(manager, "Request timeout")
    await manager.retry_job(job.id)
    await manager.claim_next("w1")
    done = await complete_running(manager, job.id, worker_id="w1")
    assert done.status is JobStatus.COMPLETED
    assert (done.completed_at, done.worker_id, done.lease_expires_at) == (clock.now, None, None)
    assert (done.failure, done.failure_pattern, done.error_message) == (None, None, None)
    assert done.last_retry is not None and done.last_retry.last_error == "Request timeout"
    outcomes = [attempt.outcome for attempt in await manager.get_attempts(job.id)]
    assert outcomes == ["failed", "completed"]
    # The filters follow: it is no longer a network_connectivity job.
    pattern = JobFilter(failure_pattern=FailurePattern.NETWORK_CONNECTIVITY)
    assert await manager.list_jobs(pattern) == ([], 0)


async def test_report_from_a_worker_without_the_lease_changes_nothing(
    manager: JobManager,
) -> None:
    job = await running_job(manager, worker_id="w1")
    token = job.lease_token
    with pytest.raises(LeaseLost):
        await manager.complete_attempt(job.id, worker_id="w2", lease_token=token)
    with pytest.raises(LeaseLost):
        await manager.fail_attempt(job.id, TIMEOUT, worker_id="w1", lease_token="not-the-token")
    assert await manager.get_job(job.id) == job


async def test_a_report_without_the_lease_token_is_refused(manager: JobManager) -> None:
    job = await running_job(manager)
    for worker_id in (None, "w1"):
        with pytest.raises(InvalidRequest) as refused:
            await manager.complete_attempt(job.id, worker_id=worker_id, lease_token=None)
        assert refused.value.message == "leaseToken is required: the token the claim returned"
    assert await manager.get_job(job.id) == job


async def test_a_report_on_a_job_that_is_not_running_is_refused(manager: JobManager) -> None:
    job, _ = await manager.create_job(job_request())
    with pytest.raises(InvalidRequest) as refused:
        await manager.fail_attempt(job.id, TIMEOUT, worker_id=None, lease_token=None)
    assert refused.value.details == {"currentStatus": "pending", "requestedStatus": "failed"}


async def test_a_report_may_carry_an_edit_in_the_same_step(
    manager: JobManager, store: Store
) -> None:
    job = await running_job(manager)
    edit = JobEdit(priority=9, metadata={"team": "search"})
    done = await complete_running(manager, job.id, worker_id="w1", edit=edit)
    assert (done.status, done.priority, done.metadata["team"]) == (JobStatus.COMPLETED, 9, "search")
    kinds = [event.event for event in await store.events(job.id)]
    assert kinds == [EventKind.CREATED, EventKind.STARTED, EventKind.COMPLETED]


# -- leases and the reaper ---------------------------------------------------------


async def test_heartbeat_extends_the_lease_only_for_its_holder(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager, worker_id="w1")
    clock.advance(50)
    token = job.lease_token
    renewed = await manager.heartbeat(job.id, "w1", lease_token=token, lease_seconds=120)
    assert renewed.lease_expires_at == clock.now + timedelta(seconds=120)
    assert renewed.lease_token == token  # a heartbeat keeps the token, a claim changes it
    with pytest.raises(LeaseLost):
        await manager.heartbeat(job.id, "w2", lease_token=token)
    with pytest.raises(LeaseLost):
        await manager.heartbeat(job.id, "w1", lease_token="stale")


async def test_expired_lease_fails_the_job_as_worker_lost_and_retries_it(
    manager: JobManager, clock: Clock, store: Store
) -> None:
    job = await running_job(manager, worker_id="w1")
    clock.advance(59)
    assert await manager.reap_expired_leases() == []
    clock.advance(2)
    [reaped] = await manager.reap_expired_leases()
    assert reaped.id == job.id
    assert reaped.status is JobStatus.PENDING and reaped.retry_count == 1
    assert reaped.failure is not None and reaped.failure.error_type is ErrorType.WORKER_LOST
    assert reaped.failure_pattern is FailurePattern.INFRASTRUCTURE
    [attempt] = await manager.get_attempts(job.id)
    assert attempt.outcome == "failed" and attempt.errorType == "worker_lost"
    failed_event = next(e for e in await store.events(job.id) if e.event is EventKind.FAILED)
    assert failed_event.actor == "system"
    # The lost worker comes back and reports: refused, nothing changes.
    assert reaped.lease_token is None
    with pytest.raises(LeaseLost):
        await manager.complete_attempt(job.id, worker_id="w1", lease_token=job.lease_token)
    assert (await manager.get_job(job.id)).status is JobStatus.PENDING


async def test_heartbeat_in_time_keeps_the_job_from_the_reaper(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager, worker_id="w1")
    clock.advance(55)
    await manager.heartbeat(job.id, "w1", lease_token=job.lease_token)
    clock.advance(55)
    assert await manager.reap_expired_leases() == []
    assert (await manager.get_job(job.id)).status is JobStatus.RUNNING


async def test_release_gives_the_job_back_without_spending_a_retry(
    manager: JobManager, clock: Clock
) -> None:
    job = await running_job(manager, worker_id="w1")
    released = await manager.release(job.id, "w1", lease_token=job.lease_token)
    assert (released.status, released.retry_count, released.scheduled_at) == (
        JobStatus.PENDING,
        0,
        clock.now,
    )
    assert [a.outcome for a in await manager.get_attempts(job.id)] == ["released"]
    with pytest.raises(LeaseLost):
        await manager.release(job.id, "w1", lease_token=job.lease_token)


async def test_cancelling_a_running_job_revokes_its_lease(manager: JobManager) -> None:
    job = await running_job(manager, worker_id="w1")
    cancelled = await manager.cancel_job(job.id)
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.lease_token is None
    with pytest.raises(LeaseLost):
        await manager.heartbeat(job.id, "w1", lease_token=job.lease_token)
    [attempt] = await manager.get_attempts(job.id)
    assert attempt.outcome == "cancelled"


async def test_cancelled_and_completed_jobs_cannot_be_cancelled(manager: JobManager) -> None:
    job = await running_job(manager)
    await complete_running(manager, job.id, worker_id="w1")
    with pytest.raises(InvalidRequest):
        await manager.cancel_job(job.id)


# -- claims ----------------------------------------------------------------------------


async def test_claim_takes_highest_priority_then_oldest_due(
    manager: JobManager, clock: Clock
) -> None:
    low, _ = await manager.create_job(job_request(priority=3))
    clock.advance(1)
    high_new, _ = await manager.create_job(job_request(priority=9))
    clock.advance(1)
    high_newer, _ = await manager.create_job(job_request(priority=9))
    order = [await manager.claim_next(f"w{n}") for n in range(4)]
    assert [job.id if job else None for job in order] == [high_new.id, high_newer.id, low.id, None]


async def test_claim_skips_jobs_that_are_not_due(manager: JobManager, clock: Clock) -> None:
    job = await failed_job(manager)
    await manager.retry_job(job.id, delay_seconds=30)
    assert await manager.claim_next("w1") is None
    clock.advance(31)
    claimed = await manager.claim_next("w1")
    assert claimed is not None and claimed.id == job.id
    assert claimed.status is JobStatus.RUNNING and claimed.attempts == 2
    assert claimed.lease_expires_at == clock.now + timedelta(seconds=60)


async def test_save_is_conditional_on_the_version_read(manager: JobManager, store: Store) -> None:
    job, _ = await manager.create_job(job_request())
    first = await store.save(job, replace(job, priority=9))
    stale = await store.save(job, replace(job, priority=1))
    assert first is not None and first.version == job.version + 1
    assert stale is None
    reread = await store.get_job(job.id)
    assert reread is not None and reread.priority == 9


async def test_every_transition_writes_an_event(manager: JobManager) -> None:
    job = await failed_job(manager)
    await manager.retry_job(job.id, actor="ops")
    events = await manager.get_events(job.id)
    kinds = [event.event for event in events]
    assert kinds == [EventKind.CREATED, EventKind.STARTED, EventKind.FAILED, EventKind.RETRIED]
    retried = events[-1]
    assert (retried.actor, retried.retry_count, retried.error_type, retried.error_message) == (
        "ops",
        1,
        "timeout",
        "Request timeout",
    )


async def test_delete_removes_the_history_too(manager: JobManager, store: Store) -> None:
    job = await failed_job(manager)
    await manager.delete_job(job.id)
    assert await store.get_job(job.id) is None
    assert await store.events(job.id) == []
    with pytest.raises(JobNotFound):
        await manager.get_job(job.id)


async def test_a_running_job_cannot_be_deleted(manager: JobManager) -> None:
    job = await running_job(manager)
    with pytest.raises(JobConflict):
        await manager.delete_job(job.id)


# -- manual and bulk retry ---------------------------------------------------------------


async def test_manual_retry_is_one_atomic_step(manager: JobManager, clock: Clock) -> None:
    job = await failed_job(manager, "Request timeout")
    clock.advance(10)
    retried = await manager.retry_job(job.id, actor="ops-key")
    assert retried.status is JobStatus.PENDING
    assert retried.retry_count == 1
    assert retried.error_message is None
    assert retried.scheduled_at == clock.now
    assert retried.config["timeout"] == 45000
    assert retried.last_retry is not None
    assert retried.last_retry.retried_by == "ops-key"
    assert retried.last_retry.reason == "Manual retry after timeout error"
    assert retried.last_retry.last_error == "Request timeout"
    assert retried.metadata == {"source": "api"}


async def test_a_metadata_edit_does_not_change_how_a_job_is_retried(manager: JobManager) -> None:
    """The policy reads the job's recorded failure, not the user's metadata."""
    job = await failed_job(manager, "Request timeout")
    await manager.edit_job(job.id, JobEdit(metadata={"note": "checked"}))
    retried = await manager.retry_job(job.id)
    assert retried.last_retry is not None
    assert retried.last_retry.reason == "Manual retry after timeout error"
    assert retried.config["timeout"] == 45000
    assert retried.config["userAgent"] == DEFAULT_USER_AGENT


async def test_manual_retry_with_a_delay(manager: JobManager, clock: Clock) -> None:
    job = await failed_job(manager)
    retried = await manager.retry_job(job.id, delay_seconds=90)
    assert retried.scheduled_at == clock.now + timedelta(seconds=90)


async def test_retry_of_unknown_or_malformed_ids_is_not_found(manager: JobManager) -> None:
    for job_id in ("123e4567-e89b-12d3-a456-426614174000", "not-a-uuid", ""):
        with pytest.raises(JobNotFound):
            await manager.retry_job(job_id)


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


async def test_bulk_retry_takes_the_oldest_first_up_to_its_limit(
    manager: JobManager, clock: Clock
) -> None:
    jobs = []
    for _ in range(3):
        clock.advance(1)
        jobs.append(await failed_job(manager, domain="old.example"))
    results = await manager.bulk_retry(BulkRetryRequest(domain="old.example", limit=2))
    assert [r.jobId for r in results] == [jobs[0].id, jobs[1].id]
    assert (await manager.get_job(jobs[2].id)).status is JobStatus.FAILED


# -- creating, editing, listing ------------------------------------------------------------


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
    patched = await manager.edit_job(job.id, JobEdit(config={"depth": None, "startUrl": None}))
    assert patched.config["depth"] == 3
    assert "startUrl" not in patched.config
    assert patched.config["maxPages"] == 100


async def test_merged_metadata_over_the_limit_is_refused(manager: JobManager) -> None:
    job, _ = await manager.create_job(job_request(metadata={"a": "x" * 40_000}))
    with pytest.raises(InvalidField) as refused:
        await manager.edit_job(job.id, JobEdit(metadata={"b": "y" * 40_000}))
    assert refused.value.field == "metadata"
    assert refused.value.problem == "merged metadata must be at most 65536 bytes as JSON"
    assert (await manager.get_job(job.id)).version == job.version


async def test_list_filters_and_paginates_newest_first(manager: JobManager, clock: Clock) -> None:
    ids = []
    for n in range(5):
        clock.advance(1)
        job, _ = await manager.create_job(job_request(domain=f"site{n % 2}.com"))
        ids.append(job.id)
    page, total = await manager.list_jobs(JobFilter(domain="site0.com"), limit=2, offset=0)
    assert total == 3
    assert [job.id for job in page] == [ids[4], ids[2]]
    page, _ = await manager.list_jobs(JobFilter(domain="site0.com"), limit=2, offset=2)
    assert [job.id for job in page] == [ids[0]]


async def test_a_domain_filter_matches_every_spelling_of_the_site(manager: JobManager) -> None:
    origin = await failed_job(manager, "Request timeout", domain="http://127.0.0.1:59999")
    bare = await failed_job(manager, "Request timeout", domain="127.0.0.1:59999")
    await failed_job(manager, "Request timeout", domain="127.0.0.1:60000")
    await failed_job(manager, "Request timeout", domain="http://127.0.0.1:443")
    expected = {origin.id, bare.id}
    for spelling in ("127.0.0.1:59999", "http://127.0.0.1:59999/", "HTTPS://127.0.0.1:59999"):
        query = JobFilter(domain=normalize_domain(spelling))
        found, total = await manager.list_jobs(query)
        assert ({job.id for job in found}, total) == (expected, 2), spelling
        assert (await manager.count_by_status(query))[JobStatus.FAILED] == 2
        stats = await manager.insights.stats(domain=spelling)
        assert stats["jobs"]["byStatus"]["failed"] == 2, spelling
    retried = await manager.bulk_retry(BulkRetryRequest(domain="127.0.0.1:59999"))
    assert {result.jobId for result in retried} == expected


async def test_failure_pattern_filter_finds_the_current_failure(manager: JobManager) -> None:
    await failed_job(manager, "connect ECONNREFUSED", domain="a.com")
    job = await failed_job(manager, "HTTP 404 Not Found", domain="b.com")
    query = JobFilter(failure_pattern=FailurePattern.CONTENT_MISSING)
    found, total = await manager.list_jobs(query)
    assert total == 1 and found[0].id == job.id


async def test_error_contains_treats_like_wildcards_literally(manager: JobManager) -> None:
    await failed_job(manager, "timeout after 100% of budget", domain="a.com")
    await failed_job(manager, "timeout after 100 ms", domain="b.com")
    found, total = await manager.list_jobs(JobFilter(error_contains="100%"))
    assert total == 1 and found[0].domain == "a.com"


async def test_counts_by_status_in_one_call(manager: JobManager) -> None:
    await failed_job(manager, domain="a.com")
    await running_job(manager, domain="a.com")
    await manager.create_job(job_request(domain="b.com"))
    counts = await manager.count_by_status(JobFilter(domain="a.com", status=JobStatus.PENDING))
    assert counts == {
        JobStatus.PENDING: 0,
        JobStatus.RUNNING: 1,
        JobStatus.COMPLETED: 0,
        JobStatus.FAILED: 1,
        JobStatus.CANCELLED: 0,
    }


async def test_running_job_factory_holds_a_lease(manager: JobManager) -> None:
    job = await running_job(manager, worker_id="w7")
    assert job.worker_id == "w7" and job.status is JobStatus.RUNNING
