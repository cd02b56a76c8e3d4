"""A site's circuit breaker: opens after site-down failures in a row, one probe, closes.

Manager scenarios on the in-memory store; ``tests/integration/test_breaker.py``
runs the same functions on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from scrapejobs.crawler import SiteGate
from scrapejobs.events import EventKind
from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import Job, JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.retry import RetryPolicy
from scrapejobs.site_sync import SiteSync
from scrapejobs.sites import Breaker, SiteStatus
from scrapejobs.store import Store
from tests.conftest import Clock
from tests.factories import complete_running, fail_running, job_request

SITE = "down.example"
REFUSED = Failure(ErrorType.CONNECTION_REFUSED, "Connection refused: down.example:443")
MISSING = Failure(ErrorType.NOT_FOUND, "HTTP 404", 404)


async def _jobs(manager: JobManager, n: int, domain: str = SITE) -> list[Job]:
    return [(await manager.create_job(job_request(domain=domain)))[0] for _ in range(n)]


async def _claim(manager: JobManager, worker: str = "w1") -> Job:
    job = await manager.claim_next(worker)
    assert job is not None
    return job


async def _fail_next(manager: JobManager, failure: Failure = REFUSED) -> Job:
    job = await _claim(manager)
    return await fail_running(manager, job.id, failure, worker_id="w1")


async def test_five_site_down_failures_in_a_row_open_the_circuit(
    manager: JobManager, clock: Clock, store: Store
) -> None:
    await _jobs(manager, 8)
    elsewhere, _ = await manager.create_job(job_request(domain="up.example", priority=1))
    spent = [await _fail_next(manager) for _ in range(4)]
    assert [job.retry_count for job in spent] == [1, 1, 1, 1]  # each failure spent a retry
    view = await manager.sites.get_site(SITE)
    assert (view.status, view.site.failure_streak) == (SiteStatus.OPEN, 4)

    fifth = await _fail_next(manager)
    view = await manager.sites.get_site(SITE)
    assert view.status is SiteStatus.CIRCUIT_OPEN
    assert view.site.breaker_until == clock.now + timedelta(seconds=30)
    assert view.site.breaker_reason == (
        "5 attempts in a row failed, the last with connection_refused"
    )
    # The attempt that opened it waits for the circuit, no retry spent.
    assert (fifth.status, fifth.retry_count, fifth.site_waits) == (JobStatus.PENDING, 0, 1)
    assert fifth.scheduled_at == view.site.breaker_until
    events = await store.events(fifth.id)
    assert [e.event for e in events][-2:] == [EventKind.FAILED, EventKind.WAITING]
    assert events[-1].details is not None
    assert events[-1].details["reason"] == (
        "down.example is held back, circuit open: 5 attempts in a row failed, "
        "the last with connection_refused"
    )
    # Its jobs wait; other sites' jobs run.
    claimed = await _claim(manager)
    assert claimed.id == elsewhere.id
    assert await manager.claim_next("w2") is None


async def test_after_the_wait_one_probe_runs_and_its_success_closes_the_circuit(
    manager: JobManager, clock: Clock
) -> None:
    jobs = await _jobs(manager, 8)
    for _ in range(5):
        await _fail_next(manager)
    clock.advance(31)
    probe = await _claim(manager)
    view = await manager.sites.get_site(SITE)
    assert view.site.probe_job_id == probe.id
    assert view.site.half_open(clock.now)
    assert await manager.claim_next("w2") is None  # only the probe runs

    await complete_running(manager, probe.id, worker_id="w1")
    view = await manager.sites.get_site(SITE)
    assert view.status is SiteStatus.OPEN
    closed = (view.site.failure_streak, view.site.breaker_trips, view.site.probe_job_id)
    assert closed == (0, 0, None)
    rest = [await manager.claim_next(f"w{n}") for n in range(3)]
    assert all(job is not None and job.site == SITE for job in rest)
    assert {job.id for job in rest if job} <= {job.id for job in jobs}


async def test_a_failed_probe_opens_the_circuit_again_for_longer(
    manager: JobManager, clock: Clock
) -> None:
    await _jobs(manager, 8)
    for _ in range(5):
        await _fail_next(manager)
    opened = []
    for _ in range(3):
        view = await manager.sites.get_site(SITE)
        assert view.site.breaker_until is not None
        opened.append((view.site.breaker_until - clock.now).total_seconds())
        clock.now = view.site.breaker_until
        probe = await _fail_next(manager)
        assert probe.status is JobStatus.PENDING and probe.retry_count == 0  # it waits again
    assert opened == [30, 60, 120]
    view = await manager.sites.get_site(SITE)
    assert view.site.breaker_trips == 4


async def test_a_site_that_answers_starts_the_count_again(manager: JobManager) -> None:
    await _jobs(manager, 10)
    for _ in range(4):
        await _fail_next(manager)
    await _fail_next(manager, MISSING)  # the site answered: it is up
    for _ in range(4):
        await _fail_next(manager)
    view = await manager.sites.get_site(SITE)
    assert (view.status, view.site.failure_streak) == (SiteStatus.OPEN, 4)


async def test_a_lost_worker_says_nothing_about_the_site(manager: JobManager, clock: Clock) -> None:
    await _jobs(manager, 6)
    for _ in range(4):
        await _fail_next(manager)
    await _claim(manager)
    clock.advance(61)
    [reaped] = await manager.reap_expired_leases()
    assert reaped.failure is not None and reaped.failure.error_type is ErrorType.WORKER_LOST
    assert (await manager.sites.get_site(SITE)).site.failure_streak == 4


async def test_a_probe_whose_worker_died_lets_another_probe_go(
    manager: JobManager, clock: Clock
) -> None:
    await _jobs(manager, 8)
    for _ in range(5):
        await _fail_next(manager)
    clock.advance(31)
    lost = await _claim(manager)
    assert await manager.claim_next("w2") is None
    clock.advance(61)  # its lease runs out: no report will come
    [reaped] = await manager.reap_expired_leases()
    assert reaped.id == lost.id
    second = await _claim(manager, "w2")
    assert second.site == SITE
    assert (await manager.sites.get_site(SITE)).site.probe_job_id == second.id


async def test_resume_closes_an_open_circuit_now(manager: JobManager) -> None:
    await _jobs(manager, 7)
    for _ in range(5):
        await _fail_next(manager)
    view = await manager.sites.resume(SITE)
    assert view.status is SiteStatus.OPEN and view.site.breaker_until is None
    assert (await manager.claim_next("w2")) is not None


async def test_a_dead_site_costs_a_few_probes_not_every_jobs_attempts(
    store: Store, clock: Clock
) -> None:
    """50 jobs with 3 retries each, on a site that refuses every connection for an
    hour: without a circuit that is 200 attempts; with it, 5 and the probes."""
    manager = JobManager(store, RetryPolicy(delays=(60,)), clock=clock)
    await _jobs(manager, 50)
    attempts = 0
    end = clock.now + timedelta(hours=1)
    while clock.now < end:
        job = await manager.claim_next("w1")
        if job is None:
            clock.advance(5)
            continue
        attempts += 1
        await fail_running(manager, job.id, REFUSED, worker_id="w1")
    # 5 to open it, then one probe per opening: 30 + 60 + ... + 1920 s fit in an hour.
    assert 5 + 6 <= attempts <= 5 + 8
    counts = await manager.count_by_status(JobFilter())
    assert counts[JobStatus.PENDING] == 50  # every job still waits; none ran out of retries


@pytest.mark.parametrize(
    ("trips", "seconds"), [(1, 30.0), (2, 60.0), (3, 120.0), (8, 3600.0), (20, 3600.0)]
)
def test_each_opening_lasts_longer_up_to_an_hour(trips: int, seconds: float) -> None:
    assert Breaker().open_seconds(trips) == seconds


BLOCKED = Failure(ErrorType.BLOCKED, "blocked: cloudflare challenge (HTTP 403)", 403)


async def test_blocked_attempts_are_not_retried_and_open_the_circuit(
    manager: JobManager,
) -> None:
    await _jobs(manager, 7)
    blocked = [await _fail_next(manager, BLOCKED) for _ in range(5)]
    # CONTRACT section 5: a block is not retried automatically, even the one that
    # opens the circuit (its site is not down: it refuses us).
    assert {job.status for job in blocked} == {JobStatus.FAILED}
    assert blocked[-1].no_retry_reason == "blocked errors are not retried automatically"
    view = await manager.sites.get_site(SITE)
    assert view.status is SiteStatus.CIRCUIT_OPEN
    assert view.site.breaker_reason == "5 attempts in a row failed, the last with blocked"
    assert await manager.claim_next("w2") is None


async def test_a_site_whose_responses_are_mostly_blocks_opens_its_circuit(
    manager: JobManager, clock: Clock
) -> None:
    """What a worker's gate reports (``SiteSync.blocked``) opens the circuit for all."""
    job, _ = await manager.create_job(job_request(domain=SITE))
    gate = SiteGate()
    sync = SiteSync(manager, gate)
    assert gate.on_blocked is not None
    gate.on_blocked(SITE, "12 of the last 20 responses were blocks (datadome captcha)")
    await sync.close()
    view = await manager.sites.get_site(SITE)
    assert view.status is SiteStatus.CIRCUIT_OPEN
    assert view.site.breaker_until == clock.now + timedelta(seconds=30)
    assert view.site.breaker_reason == "12 of the last 20 responses were blocks (datadome captcha)"
    assert await manager.claim_next("w1") is None
    # A second report while it is open changes nothing; once it half-opens, a probe runs.
    await manager.sites.trip(SITE, "again")
    assert (await manager.sites.get_site(SITE)).site.breaker_trips == 1
    clock.advance(31)
    probe = await _claim(manager)
    assert probe.id == job.id
