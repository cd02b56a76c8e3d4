"""Fenced leases (issue 15): each claim's token, and the late report it refuses.

On the in-memory store here; ``tests/integration/test_leases.py`` runs the
same functions on SQLite and PostgreSQL. All slots of one worker process
share a worker id, so the scenarios claim every attempt as the same ``W``.
"""

from __future__ import annotations

import re

import pytest

from scrapejobs.errors import InvalidRequest, LeaseLost
from scrapejobs.events import EventKind
from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import JobStatus
from scrapejobs.leases import LEASE_TOKEN_LENGTH, TOKEN_REQUIRED, check_lease, new_lease_tokens
from scrapejobs.manager import JobManager
from scrapejobs.store import Store
from tests.conftest import Clock
from tests.factories import build_job, job_request, running_job

W = "host-1234-abcdef"
TIMEOUT = Failure(ErrorType.TIMEOUT, "Request timeout")


def test_tokens_are_url_safe_and_all_different() -> None:
    tokens = new_lease_tokens(200)
    assert len(set(tokens)) == 200
    assert all(re.fullmatch(rf"[A-Za-z0-9_-]{{{LEASE_TOKEN_LENGTH}}}", token) for token in tokens)


def test_the_check_is_pure_and_tells_missing_from_stale() -> None:
    running = build_job(status=JobStatus.RUNNING, worker_id=W, attempts=2, lease_token="t" * 22)
    check_lease(running, "t" * 22, W)
    with pytest.raises(InvalidRequest) as missing:
        check_lease(running, None, W)
    assert missing.value.message == TOKEN_REQUIRED
    with pytest.raises(LeaseLost) as stale:
        check_lease(running, "s" * 22, W)
    assert stale.value.message == "Lease is no longer held"
    assert "t" * 22 not in str(stale.value.details)  # the refusal never shows the token
    with pytest.raises(LeaseLost):
        check_lease(build_job(status=JobStatus.PENDING), "t" * 22)
    with pytest.raises(LeaseLost):
        check_lease(running, "ü" * 22)  # not even comparable: refused, never a crash


async def test_every_claim_gives_a_new_token_and_the_lease_end_clears_it(
    manager: JobManager, clock: Clock
) -> None:
    jobs = [(await manager.create_job(job_request()))[0] for _ in range(3)]
    batch = await manager.claim_jobs(W, 3)
    assert {job.id for job in batch} == {job.id for job in jobs}
    tokens = [job.lease_token for job in batch]
    assert None not in tokens and len(set(tokens)) == 3
    for job in batch:
        assert (await manager.get_job(job.id)).lease_token == job.lease_token
    released = await manager.release(batch[0].id, W, lease_token=batch[0].lease_token)
    assert released.lease_token is None
    again = await manager.claim_next(W)
    assert again is not None and again.id == batch[0].id
    assert again.lease_token not in (None, *tokens)
    done = await manager.complete_attempt(again.id, worker_id=W, lease_token=again.lease_token)
    assert done.lease_token is None
    cancelled = await manager.cancel_job(batch[1].id)
    assert cancelled.lease_token is None


async def test_a_late_report_for_a_reaped_attempt_cannot_land_on_the_next_one(
    manager: JobManager, clock: Clock, store: Store
) -> None:
    """Claim as W, the lease expires and is reaped (worker_lost, retried), W claims the
    retry: attempt 1's late report is refused and changes nothing; attempt 2's lands."""
    first = await running_job(manager, worker_id=W)
    clock.advance(61)
    [reaped] = await manager.reap_expired_leases()
    assert (reaped.status, reaped.retry_count, reaped.lease_token) == (JobStatus.PENDING, 1, None)
    clock.advance(3600)
    second = await manager.claim_next(W)
    assert second is not None and second.id == first.id
    assert (second.worker_id, second.attempts) == (W, 2)
    assert second.lease_token != first.lease_token
    before, history = await manager.get_job(first.id), await store.events(first.id)

    stale = first.lease_token
    with pytest.raises(LeaseLost) as refused:
        await manager.complete_attempt(first.id, worker_id=W, lease_token=stale)
    assert refused.value.details["currentStatus"] == "running"
    with pytest.raises(LeaseLost):
        await manager.fail_attempt(first.id, TIMEOUT, worker_id=W, lease_token=stale)
    with pytest.raises(LeaseLost):
        await manager.heartbeat(first.id, W, lease_token=stale)
    with pytest.raises(LeaseLost):
        await manager.release(first.id, W, lease_token=stale)
    assert await manager.get_job(first.id) == before
    assert await store.events(first.id) == history

    done = await manager.complete_attempt(first.id, worker_id=W, lease_token=second.lease_token)
    assert (done.status, done.retry_count, done.attempts) == (JobStatus.COMPLETED, 1, 2)
    outcomes = [attempt.outcome for attempt in await manager.get_attempts(first.id)]
    assert outcomes == ["failed", "completed"]


async def test_a_stale_failure_tells_the_site_nothing(manager: JobManager, clock: Clock) -> None:
    """A connection failure counts towards the site's circuit: not from a stale report."""
    refused = Failure(ErrorType.CONNECTION_REFUSED, "Connection refused")
    first = await running_job(manager, worker_id=W)
    clock.advance(61)
    await manager.reap_expired_leases()
    clock.advance(3600)
    assert await manager.claim_next(W) is not None
    before = await manager.sites.get_site(first.site)
    with pytest.raises(LeaseLost):
        await manager.fail_attempt(first.id, refused, worker_id=W, lease_token=first.lease_token)
    assert await manager.sites.get_site(first.site) == before


async def test_a_heartbeat_keeps_the_token_and_needs_it(manager: JobManager) -> None:
    job = await running_job(manager, worker_id=W)
    renewed = await manager.heartbeat(job.id, None, lease_token=job.lease_token)
    assert renewed.lease_token == job.lease_token
    with pytest.raises(InvalidRequest) as missing:
        await manager.heartbeat(job.id, W, lease_token=None)
    assert missing.value.message == TOKEN_REQUIRED
    events = [event.event for event in await manager.get_events(job.id)]
    assert events == [EventKind.CREATED, EventKind.STARTED]
