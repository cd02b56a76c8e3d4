"""The demo's parts that need no server: its scope, its site's answers, its jobs and texts.

The whole demo, as a process, is ``tests/e2e/test_demo.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scrapejobs.crawler import BlockedAddress, CrawlSpec
from scrapejobs.demo.scenarios import SCENARIOS, config_changes, job_request, progress
from scrapejobs.demo.scope import DemoCrawler, OnlyAddress
from scrapejobs.demo.site import DISALLOWED, RETRY_AFTER_SECONDS, DemoSite
from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import JobStatus, LastRetry, normalize_domain
from scrapejobs.schemas import JobCreate
from tests.factories import build_job

NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)
ORIGINS = ("http://127.0.0.1:41001", "http://127.0.0.1:41002")


def test_the_address_policy_allows_the_demo_address_alone() -> None:
    policy = OnlyAddress(address="127.0.0.1")
    policy.check("127.0.0.1")
    for other in ("127.0.0.2", "::1", "::ffff:127.0.0.1", "10.0.0.1", "93.184.215.14"):
        with pytest.raises(BlockedAddress):
            policy.check(other)


@pytest.mark.parametrize(
    ("domain", "start_url", "allowed"),
    [
        (ORIGINS[0], None, True),
        (ORIGINS[1], ORIGINS[1] + "/busy/", True),
        ("127.0.0.1:41001", None, True),
        ("http://127.0.0.1:3000", None, False),  # the service itself
        (ORIGINS[0], "http://127.0.0.1:3000/api/scrape-jobs", False),
        ("example.com", None, False),
        ("example.com", ORIGINS[0] + "/shop/", False),
        ("localhost:41001", None, False),
    ],
)
def test_the_crawler_takes_jobs_on_the_demo_sites_only(
    domain: str, start_url: str | None, allowed: bool
) -> None:
    crawler = DemoCrawler(ORIGINS, "127.0.0.1")
    config = {"startUrl": start_url} if start_url else {}
    refusal = crawler.refusal(CrawlSpec("domain_scrape", normalize_domain(domain), config))
    assert (refusal is None) is allowed
    if refusal is not None:
        assert refusal.startswith("the demo crawls its own site only")


async def test_flaky_and_busy_fail_a_whole_attempt_then_work() -> None:
    site = DemoSite(failing=3)
    flaky = [(await site.answer("/flaky/", hit)).status for hit in range(1, 6)]
    assert flaky == [503, 503, 503, 200, 200]
    busy = await site.answer("/busy/", 1)
    assert (busy.status, busy.headers["Retry-After"]) == (429, str(RETRY_AFTER_SECONDS))
    assert (await site.answer("/busy/", 4)).status == 200


async def test_the_other_pages() -> None:
    site = DemoSite()
    robots = await site.answer("/robots.txt", 1)
    assert f"Disallow: {DISALLOWED}" in (robots.text or "")
    shop = await site.answer("/shop/", 1)
    assert (shop.status, shop.content_type) == (200, "text/html")
    assert 'href="/shop/1"' in (shop.text or "") and 'href="/shop/2"' in (shop.text or "")
    assert (await site.answer("/shop/2", 1)).status == 200
    for missing in ("/gone/", "/shop/3", "/nowhere/", "/gone/1"):
        assert (await site.answer(missing, 1)).status == 404


def test_every_scenario_is_a_valid_job_on_its_own_site() -> None:
    origins = ORIGINS * 3
    jobs = [job_request(s, origin) for s, origin in zip(SCENARIOS, origins, strict=True)]
    for scenario, job in zip(SCENARIOS, jobs, strict=True):
        assert isinstance(job, JobCreate)
        config = job.full_config()
        assert config["startUrl"] == job.domain + scenario.path
        assert config["depth"] == 1
        assert job.metadata == {"demo": scenario.name}
    assert {scenario.name for scenario in SCENARIOS} == {
        "shop",
        "flaky",
        "busy",
        "slow",
        "gone",
        "private",
    }


def test_config_changes_names_what_a_retry_changed() -> None:
    before = {"timeout": 2000, "delay": 0, "depth": 1}
    after = {"timeout": 3000, "delay": 0, "depth": 1}
    assert config_changes(before, after) == "timeout 2000 -> 3000"
    assert config_changes(before, before) == ""


def test_progress_lines_say_retry_or_wait_and_what_changed() -> None:
    failure = Failure(ErrorType.RATE_LIMITED, "HTTP 429", 429, retry_after=3.0)
    first = {"delay": 0, "maxConcurrentRequests": 8}
    waiting = build_job(
        failure=failure,
        site_waits=1,
        scheduled_at=NOW + timedelta(seconds=3),
        config={"delay": 2000, "maxConcurrentRequests": 1},
    )
    line = progress(waiting, first, NOW)
    assert line.startswith("rate_limited (HTTP 429): its site cools down; again in 3.0 s")
    assert line.endswith("no retry spent, with delay 0 -> 2000, maxConcurrentRequests 8 -> 1")
    timeout = Failure(ErrorType.TIMEOUT, "timeout after 2 s")
    retried = build_job(
        failure=timeout,
        retry_count=1,
        scheduled_at=NOW + timedelta(seconds=2.5),
        config={"timeout": 3000},
        last_retry=LastRetry("Automatic retry after timeout error", "timeout", NOW, "system"),
    )
    assert progress(retried, {"timeout": 2000}, NOW) == (
        "timeout (timeout after 2 s): retry 1/3 in 2.5 s, with timeout 2000 -> 3000"
    )
    done = build_job(status=JobStatus.COMPLETED, attempts=2, retry_count=1)
    assert progress(done, done.config, NOW) == "completed at attempt 2, retry_count 1"
