"""Sites across the fleet: cooldowns on Retry-After, pauses, waiting that spends no retry.

Manager scenarios on the in-memory store; ``tests/integration/test_sites.py``
runs the same functions on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from scrapejobs.errors import InvalidRequest, SiteNotFound
from scrapejobs.events import EventKind
from scrapejobs.failures import ErrorType, Failure, classify
from scrapejobs.jobs import JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.retry import RetryPolicy
from scrapejobs.sites import SiteStatus, site_of
from scrapejobs.store import Store
from tests.conftest import Clock
from tests.factories import fail_running, job_request, running_job

LIMITED = classify("HTTP 429 from https://shop.example/", http_status=429, retry_after=120)
SITE = "shop.example"


async def test_a_retry_after_cools_the_site_down_and_the_job_waits_for_free(
    manager: JobManager, clock: Clock, store: Store
) -> None:
    job = await running_job(manager, domain=SITE)
    waiting = await fail_running(manager, job.id, LIMITED, worker_id="w1")
    assert (waiting.status, waiting.retry_count, waiting.site_waits) == (JobStatus.PENDING, 0, 1)
    assert waiting.scheduled_at == clock.now + timedelta(seconds=120)
    assert waiting.last_retry is None
    assert waiting.config["maxConcurrentRequests"] == 1  # slowed down as a retry would
    events = await store.events(job.id)
    assert [e.event for e in events][-2:] == [EventKind.FAILED, EventKind.WAITING]
    assert events[-1].details == {
        "reason": "shop.example is cooling down: HTTP 429 with Retry-After: 120 s",
        "until": "2024-01-01T12:02:00.000Z",
    }
    [attempt] = await manager.get_attempts(job.id)
    assert (attempt.outcome, attempt.errorType) == ("failed", "rate_limited")
    view = await manager.sites.get_site(SITE)
    assert view.status is SiteStatus.COOLING_DOWN
    assert view.site.cooldown_until == clock.now + timedelta(seconds=120)


async def test_a_cooling_site_holds_back_every_job_on_it(manager: JobManager, clock: Clock) -> None:
    job = await running_job(manager, domain=SITE)
    other, _ = await manager.create_job(job_request(domain=SITE, priority=9))
    elsewhere, _ = await manager.create_job(job_request(domain="other.example"))
    await fail_running(manager, job.id, LIMITED, worker_id="w1")
    claimed = await manager.claim_next("w2")
    assert claimed is not None and claimed.id == elsewhere.id  # priority 9 waits for its site
    assert await manager.claim_next("w3") is None
    clock.advance(121)
    next_up = await manager.claim_next("w4")
    assert next_up is not None and next_up.id == other.id
    assert next_up.retry_count == 0


async def test_a_later_cooldown_is_kept_and_a_shorter_one_does_not_cut_it(
    manager: JobManager, clock: Clock
) -> None:
    long = classify("HTTP 503", http_status=503, retry_after=600)
    first = await running_job(manager, domain=SITE)
    second = await running_job(manager, domain=SITE, worker_id="w2")
    await fail_running(manager, first.id, long, worker_id="w1")
    await fail_running(manager, second.id, LIMITED, worker_id="w2")
    view = await manager.sites.get_site(SITE)
    assert view.site.cooldown_until == clock.now + timedelta(seconds=600)
    assert view.site.cooldown_reason == "HTTP 503 with Retry-After: 600 s"


async def test_waiting_is_free_only_so_many_times_in_a_row(store: Store, clock: Clock) -> None:
    manager = JobManager(store, RetryPolicy(free_waits=2), clock=clock)
    job = await running_job(manager, domain=SITE)
    for waits in (1, 2):
        waited = await fail_running(manager, job.id, LIMITED, worker_id="w1")
        assert (waited.retry_count, waited.site_waits) == (0, waits)
        clock.advance(121)
        assert (await manager.claim_next("w1")) is not None
    spent = await fail_running(manager, job.id, LIMITED, worker_id="w1")
    assert (spent.status, spent.retry_count, spent.site_waits) == (JobStatus.PENDING, 1, 0)
    assert spent.scheduled_at >= clock.now + timedelta(seconds=120)  # Retry-After still waited


async def test_a_job_that_ignores_retry_after_spends_a_retry(manager: JobManager) -> None:
    job = await running_job(manager, domain=SITE, config={"respectRetryAfter": False})
    retried = await fail_running(manager, job.id, LIMITED, worker_id="w1")
    assert retried.retry_count == 1
    # The site still asked everyone to wait: other jobs do.
    assert (await manager.sites.get_site(SITE)).status is SiteStatus.COOLING_DOWN


async def test_failures_without_retry_after_do_not_cool_the_site(manager: JobManager) -> None:
    for failure in (
        classify("HTTP 429", http_status=429),
        Failure(ErrorType.TIMEOUT, "timeout", retry_after=60),  # not a site's answer
    ):
        job = await running_job(manager, domain=SITE)
        await fail_running(manager, job.id, failure, worker_id="w1")
    assert (await manager.sites.get_site(SITE)).status is SiteStatus.OPEN


async def test_a_paused_site_gets_no_job_until_it_is_resumed(
    manager: JobManager, clock: Clock
) -> None:
    job, _ = await manager.create_job(job_request(domain="http://127.0.0.1:8081"))
    paused = await manager.sites.pause("127.0.0.1:8081")
    assert paused.status is SiteStatus.PAUSED and paused.jobs[JobStatus.PENDING] == 1
    assert await manager.claim_next("w1") is None
    clock.advance(3600)
    assert await manager.claim_next("w1") is None
    await manager.sites.pause("http://127.0.0.1:8081", paused=False)
    claimed = await manager.claim_next("w1")
    assert claimed is not None and claimed.id == job.id


async def test_resume_ends_a_cooldown_and_a_pause_now(manager: JobManager) -> None:
    job = await running_job(manager, domain=SITE)
    await fail_running(manager, job.id, LIMITED, worker_id="w1")
    await manager.sites.pause(SITE)
    resumed = await manager.sites.resume(SITE)
    assert resumed.status is SiteStatus.OPEN
    assert (resumed.site.paused, resumed.site.cooldown_until) == (False, None)
    # The job itself waits for the end of its Retry-After: it was told so.
    assert await manager.claim_next("w1") is None


async def test_sites_are_listed_by_name_and_state(manager: JobManager) -> None:
    for domain in ("b.example", "a.example", "c.example", "b.example"):
        await manager.create_job(job_request(domain=domain))
    await manager.sites.pause("c.example")
    views, total = await manager.sites.list_sites()
    assert total == 3
    assert [(v.site.site, v.jobs[JobStatus.PENDING]) for v in views] == [
        ("a.example", 1),
        ("b.example", 2),
        ("c.example", 1),
    ]
    paused, total = await manager.sites.list_sites(status=SiteStatus.PAUSED)
    assert total == 1 and [v.site.site for v in paused] == ["c.example"]
    page, total = await manager.sites.list_sites(status=SiteStatus.OPEN, limit=1, offset=1)
    assert total == 2 and [v.site.site for v in page] == ["b.example"]


async def test_a_job_is_on_its_start_urls_site(manager: JobManager) -> None:
    job, _ = await manager.create_job(
        job_request(domain="example.com", config={"startUrl": "https://shop.example.com/x"})
    )
    assert job.site == "shop.example.com"
    assert (await manager.sites.get_site("shop.example.com")).jobs[JobStatus.PENDING] == 1
    with pytest.raises(SiteNotFound):
        await manager.sites.get_site("example.com")


async def test_site_names_are_checked(manager: JobManager) -> None:
    with pytest.raises(InvalidRequest):
        await manager.sites.pause("not a site/")


@pytest.mark.parametrize(
    ("domain", "start", "site"),
    [
        ("example.com", None, "example.com"),
        ("example.com:8080", None, "example.com:8080"),
        ("example.com:443", None, "example.com"),
        ("http://example.com:80", None, "example.com"),
        ("http://example.com:443", None, "example.com:443"),
        ("http://127.0.0.1:8081", None, "127.0.0.1:8081"),
        ("https://[::1]:8443", None, "[::1]:8443"),
        ("example.com", "https://WWW.Example.COM/a?b=1", "www.example.com"),
        ("example.com", "http://user:pw@shop.example.com:8080/", "shop.example.com:8080"),
        ("example.com", "https://bücher.example/", "xn--bcher-kva.example"),
    ],
)
def test_site_keys(domain: str, start: str | None, site: str) -> None:
    assert site_of(domain, start) == site
