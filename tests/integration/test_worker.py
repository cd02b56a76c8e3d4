"""Workers crawling real local sites, on SQLite and PostgreSQL: the retry policy in action."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from scrapejobs.crawler import AddressPolicy, Crawler
from scrapejobs.errors import LeaseLost
from scrapejobs.failures import ErrorType
from scrapejobs.jobs import DEFAULT_USER_AGENT, Job, JobStatus
from scrapejobs.manager import JobManager, utcnow
from scrapejobs.retry import RetryPolicy
from scrapejobs.storage import SqlStore
from scrapejobs.worker import Worker
from tests.conftest import Clock
from tests.crawl_sites import statuses
from tests.factories import job_request
from tests.sites import Site, html, page, serve_site


@dataclass
class Rig:
    manager: JobManager
    worker: Worker
    site: Site

    async def submit(self, **fields: object) -> Job:
        job, _ = await self.manager.create_job(job_request(domain=self.site.origin, **fields))
        return job

    async def wait_until(self, job_id: str, *wanted: JobStatus, patience: float = 60) -> Job:
        deadline = time.monotonic() + patience
        while (job := await self.manager.get_job(job_id)).status not in wanted:
            assert time.monotonic() < deadline, f"job stayed {job.status}"
            await asyncio.sleep(0.05)
        return job


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    store = SqlStore.from_url(database_url)
    # Short backoff so that automatic retries happen within the test.
    # A one-second lease: heartbeats every 1/3 s, so a cancel reaches the crawl quickly.
    manager = JobManager(store, RetryPolicy(delays=(0.2,), jitter=0.0), lease_seconds=1)
    # In-crawl retries as many as in production, with shorter waits between them.
    crawler = Crawler(policy=AddressPolicy(allow_private_networks=True), retry_delays=(0.1, 0.2))
    worker = Worker(manager, crawler, concurrency=2, poll_interval=0.05, shutdown_grace=0)
    async with serve_site(Site()) as site:
        running = asyncio.create_task(worker.run())
        try:
            yield Rig(manager, worker, site)
        finally:
            worker.stop()
            await running
            await crawler.close()
            await store.close()


def link_tree(site: Site, fanout: int = 3, depth: int = 2) -> int:
    """Pages / -> /p1.. -> /p1-1..; returns how many there are."""
    count = 0

    def add(path: str, level: int) -> None:
        nonlocal count
        count += 1
        children = [] if level == depth else [f"{path.rstrip('/')}/{n}" for n in range(fanout)]
        links = "".join(f'<a href="{child}">{child}</a>' for child in children)
        site.routes[path] = page(links, title=f"page {path}")
        for child in children:
            add(child, level + 1)

    add("/", 0)
    return count


async def test_a_crawl_stores_every_page_and_completes(rig: Rig) -> None:
    total = link_tree(rig.site, fanout=3, depth=2)
    job = await rig.submit(config={"depth": 2, "maxPages": 100})
    done = await rig.wait_until(job.id, JobStatus.COMPLETED, JobStatus.FAILED)
    assert done.status is JobStatus.COMPLETED
    assert total == 13
    pages = [row async for row in rig.manager.results.iter_pages(done)]
    assert len(pages) == total
    assert {row["depth"] for row in pages} == {0, 1, 2}
    assert pages[0]["url"].rstrip("/") == rig.site.origin
    assert pages[0]["title"] == "page /"
    assert await rig.manager.results.pages_crawled(done) == total


async def test_a_flaky_503_recovers_to_completed(rig: Rig) -> None:
    # More 503s than the in-crawl retries absorb: the attempt fails, the job is retried.
    rig.site.routes["/"] = statuses(503, 503, 503)
    job = await rig.submit(config={"depth": 0})
    done = await rig.wait_until(job.id, JobStatus.COMPLETED, JobStatus.FAILED)
    assert done.status is JobStatus.COMPLETED
    assert done.retry_count == 1
    attempts = await rig.manager.get_attempts(job.id)
    assert [(a.outcome, a.errorType) for a in attempts] == [
        ("failed", "service_unavailable"),
        ("completed", None),
    ]
    assert attempts[0].httpStatus == 503


async def test_a_timeout_is_retried_with_a_longer_timeout(rig: Rig) -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(0.4)
        return html("slow but there")

    rig.site.routes["/"] = slow
    job = await rig.submit(config={"depth": 0, "timeout": 300})
    done = await rig.wait_until(job.id, JobStatus.COMPLETED, JobStatus.FAILED)
    assert done.status is JobStatus.COMPLETED
    assert done.config["timeout"] == 450
    first = (await rig.manager.get_attempts(job.id))[0]
    assert (first.outcome, first.errorType, first.failurePattern) == (
        "failed",
        "timeout",
        "network_connectivity",
    )


async def test_a_429_with_retry_after_is_not_fetched_again_before_it(rig: Rig) -> None:
    rig.site.routes["/"] = statuses(429, headers={"Retry-After": "2"})
    job = await rig.submit(config={"depth": 0})
    done = await rig.wait_until(job.id, JobStatus.COMPLETED, JobStatus.FAILED)
    assert done.status is JobStatus.COMPLETED
    first, second = rig.site.hits_of("/")[:2]
    assert second.at - first.at >= 2.0


async def test_a_403_is_retried_with_another_user_agent(rig: Rig) -> None:
    async def picky(request: web.Request) -> web.Response:
        if request.headers.get("User-Agent") == DEFAULT_USER_AGENT:
            return web.Response(status=403, text="no bots")
        return html("welcome")

    rig.site.routes["/"] = picky
    job = await rig.submit(config={"depth": 0})
    done = await rig.wait_until(job.id, JobStatus.COMPLETED, JobStatus.FAILED)
    assert done.status is JobStatus.COMPLETED
    agents = [hit.user_agent for hit in rig.site.hits_of("/")]
    assert agents[0] == DEFAULT_USER_AGENT
    assert agents[-1] != DEFAULT_USER_AGENT
    assert done.config["userAgent"] == agents[-1]


async def test_a_404_is_not_retried_automatically(rig: Rig) -> None:
    job = await rig.submit(config={"depth": 0})  # the site has no routes: / is a 404
    done = await rig.wait_until(job.id, JobStatus.FAILED, JobStatus.COMPLETED)
    assert done.status is JobStatus.FAILED
    assert done.retry_count == 0
    assert done.failure is not None
    assert (done.failure.error_type, done.failure.http_status) == (ErrorType.NOT_FOUND, 404)
    assert len(rig.site.hits_of("/")) == 1


async def test_a_crawl_stopped_at_its_deadline_completes_and_says_so(rig: Rig) -> None:
    released = asyncio.Event()

    async def hang(_request: web.Request) -> web.Response:
        await released.wait()
        return html("too late")

    rig.site.routes["/"] = page('<a href="/quick">q</a><a href="/slow">s</a>')
    rig.site.routes["/quick"] = page("quick")
    rig.site.routes["/slow"] = hang
    job = await rig.submit(config={"maxDuration": 1500, "maxConcurrentRequests": 1})
    done = await rig.wait_until(job.id, JobStatus.COMPLETED, JobStatus.FAILED)
    assert done.status is JobStatus.COMPLETED and done.retry_count == 0
    assert await rig.manager.results.pages_crawled(done) == 2
    [attempt] = await rig.manager.get_attempts(job.id)
    released.set()
    assert attempt.note == (
        "stopped at the deadline (maxDuration 1500 ms): 1 queued URLs not fetched"
    )


async def _slow_site(rig: Rig) -> asyncio.Event:
    """/ links to 50 pages that each take 0.2 s; returns an event set on the first page."""
    started = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(0.2)
        return html("slow")

    rig.site.routes["/"] = page("".join(f'<a href="/s{n}">s</a>' for n in range(50)))
    for n in range(50):
        rig.site.routes[f"/s{n}"] = slow
    return started


async def test_cancelling_a_running_job_stops_its_crawl(rig: Rig) -> None:
    started = await _slow_site(rig)
    job = await rig.submit(config={"depth": 1, "maxConcurrentRequests": 1})
    await asyncio.wait_for(started.wait(), 30)
    await rig.manager.cancel_job(job.id)
    await asyncio.sleep(rig.worker.heartbeat_interval * 3)
    hits = len(rig.site.hits)
    await asyncio.sleep(rig.worker.heartbeat_interval * 2)
    assert len(rig.site.hits) == hits, "the crawl went on after the cancel"
    assert (await rig.manager.get_job(job.id)).status is JobStatus.CANCELLED


def spy_on_leases(manager: JobManager) -> tuple[list[tuple[str, str | None]], asyncio.Event]:
    """Record the worker's lease calls (name, token); the event is set on the first
    one refused as LeaseLost."""
    calls: list[tuple[str, str | None]] = []
    lost = asyncio.Event()
    for name in ("heartbeat", "complete_attempt", "fail_attempt", "release"):
        real = getattr(manager, name)

        async def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append((_name, kwargs.get("lease_token")))
            try:
                return await _real(*args, **kwargs)
            except LeaseLost:
                lost.set()
                raise

        setattr(manager, name, spy)
    return calls, lost


async def test_a_worker_whose_lease_was_reaped_and_claimed_again_stops_for_that_job(
    rig: Rig, database_url: str
) -> None:
    """Issue 15: every slot of a worker process shares its worker id. The lease is
    reaped and the retry claimed again under that id (by another process, whose
    clock is an hour on); the worker's next heartbeat carries a stale token: it stops
    renewing, crawling and reporting for the job, and the new attempt is untouched."""
    calls, lost = spy_on_leases(rig.manager)
    started = await _slow_site(rig)
    job = await rig.submit(config={"depth": 1, "maxConcurrentRequests": 1})
    await asyncio.wait_for(started.wait(), 30)
    first = await rig.manager.get_job(job.id)

    store = SqlStore.from_url(database_url)
    try:
        clock = Clock(utcnow() + timedelta(hours=1))
        other = JobManager(store, RetryPolicy(delays=(0.2,), jitter=0.0), clock=clock)
        [reaped] = await other.reap_expired_leases()
        assert (reaped.id, reaped.status) == (job.id, JobStatus.PENDING)
        clock.advance(1)
        second = await other.claim_next(rig.worker.worker_id)
        assert second is not None and second.id == job.id
        assert (second.worker_id, second.attempts) == (first.worker_id, 2)
        events = await other.get_events(job.id)

        await asyncio.wait_for(lost.wait(), 30)
        since_lost = len(calls)
        deadline = time.monotonic() + 30
        while rig.worker._tasks:  # the job's run ends: its crawl cancelled, nothing reported
            assert time.monotonic() < deadline, "the worker kept running the job"
            await asyncio.sleep(0.02)
        assert calls[since_lost - 1] == ("heartbeat", first.lease_token)
        assert calls[since_lost:] == []
        assert len(rig.site.hits) < 51, "the crawl went on to the end"
        now = await other.get_job(job.id)
        assert (now.status, now.attempts, now.lease_token) == (
            JobStatus.RUNNING,
            2,
            second.lease_token,
        )
        assert now.lease_expires_at == second.lease_expires_at  # nobody renewed it
        assert await other.get_events(job.id) == events
    finally:
        await store.close()


async def test_stopping_the_worker_releases_its_jobs(rig: Rig) -> None:
    started = await _slow_site(rig)
    job = await rig.submit(config={"depth": 1, "maxConcurrentRequests": 1})
    await asyncio.wait_for(started.wait(), 30)
    rig.worker.stop()
    released = await rig.wait_until(job.id, JobStatus.PENDING)
    assert released.retry_count == 0
    [attempt] = await rig.manager.get_attempts(job.id)
    assert attempt.outcome == "released"


async def test_a_crawl_is_counted_in_the_process_metrics(rig: Rig) -> None:
    total = link_tree(rig.site, fanout=2, depth=2)
    metric = REGISTRY.get_sample_value
    pages_before = metric("scrapejobs_pages_fetched_total") or 0.0
    completed = {"outcome": "completed"}
    crawls_before = metric("scrapejobs_crawl_duration_seconds_count", completed) or 0.0
    attempts = {"outcome": "completed", "error_type": "", "failure_pattern": ""}
    attempts_before = metric("scrapejobs_worker_attempts_total", attempts) or 0.0
    claims_before = metric("scrapejobs_claim_latency_seconds_count") or 0.0

    job = await rig.submit(config={"depth": 2})
    await rig.wait_until(job.id, JobStatus.COMPLETED)

    assert metric("scrapejobs_pages_fetched_total") == pages_before + total
    assert metric("scrapejobs_crawl_duration_seconds_count", completed) == crawls_before + 1
    assert metric("scrapejobs_worker_attempts_total", attempts) == attempts_before + 1
    assert metric("scrapejobs_claim_latency_seconds_count") == claims_before + 1
