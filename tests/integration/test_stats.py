"""Retry analytics on SQLite and PostgreSQL: the known history counted in SQL, and the counts.

The scenarios of ``tests/unit/test_analytics.py`` run here again on both
databases; the tests below are about SQL alone: the endpoint, the running
counts against the rows, deletes, concurrent writers, recount.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from scrapejobs.errors import ScrapeJobsError
from scrapejobs.failures import ErrorType, Failure, FailurePattern
from scrapejobs.jobs import JobStatus, JobType
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.storage import SqlStore
from tests.conftest import Clock
from tests.factories import job_request
from tests.unit.test_analytics import *  # noqa: F403
from tests.unit.test_analytics import (
    EXPECTED_FAILURE_ANALYSIS,
    EXPECTED_RETRY_METRICS,
    build_history,
)


async def test_stats_endpoint_serves_the_same_report(
    api: httpx.AsyncClient, manager: JobManager, clock: Clock
) -> None:
    await build_history(manager, clock)

    response = await api.get("/api/scrape-jobs/stats")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"]["retryMetrics"] == EXPECTED_RETRY_METRICS
    assert body["data"]["failureAnalysis"] == EXPECTED_FAILURE_ANALYSIS

    filtered = await api.get(
        "/api/scrape-jobs/stats",
        params={"domain": "c.example", "job_type": "page_scrape", "since": "2024-01-01"},
    )
    assert filtered.json()["data"]["scope"] == {
        "domain": "c.example",
        "since": "2024-01-01T00:00:00.000Z",
        "job_type": "page_scrape",
    }
    assert filtered.json()["data"]["jobs"]["byStatus"]["failed"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "query.since"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "query.since"),
        ({"job_type": "crawl"}, "query.job_type"),
        ({"domain": "a.example/path"}, "query.domain"),
        ({"status": "failed"}, "query.status"),
    ],
)
async def test_stats_refuses_bad_filters(
    api: httpx.AsyncClient, query: dict[str, str], field: str
) -> None:
    response = await api.get("/api/scrape-jobs/stats", params=query)

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert [detail["field"] for detail in body["details"]] == [field]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def without_scope(report: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report.items() if key not in ("scope", "generatedAt")}


async def test_running_counts_agree_with_the_rows(manager: JobManager, clock: Clock) -> None:
    """Stats without ``since`` read job_counts / failure_counts; with it, the rows."""
    await build_history(manager, clock)

    for scope in ({}, {"domain": "a.example"}, {"job_type": JobType.PAGE_SCRAPE}):
        from_counts = await manager.insights.stats(**scope)  # type: ignore[arg-type]
        from_rows = await manager.insights.stats(since=EPOCH, **scope)  # type: ignore[arg-type]
        assert without_scope(from_counts) == without_scope(from_rows)


async def test_list_totals_from_the_counts_match_the_rows(
    manager: JobManager, clock: Clock
) -> None:
    """A list's total is summed from job_counts (when it keys on every filter): same number."""
    await build_history(manager, clock)
    await manager.delete_job((await manager.list_jobs(JobFilter(domain="d.example")))[0][0].id)
    expected = [
        (JobFilter(), 18),
        (JobFilter(status=JobStatus.FAILED), 10),
        (JobFilter(domain="a.example"), 5),
        (JobFilter(status=JobStatus.FAILED, domain="a.example"), 3),
        (JobFilter(job_type=JobType.PAGE_SCRAPE), 3),
        # B1 recovered: only B2 and B3 still carry a rate_limiting failure.
        (JobFilter(failure_pattern=FailurePattern.RATE_LIMITING), 2),
        (JobFilter(status=JobStatus.PENDING, failure_pattern=FailurePattern.SERVER_ERROR), 1),
        (JobFilter(failure_pattern=FailurePattern.INFRASTRUCTURE), 0),
        (JobFilter(domain="nowhere.example"), 0),
        (JobFilter(status=JobStatus.FAILED, error_contains="timeout"), 2),  # counts the rows
    ]
    for query, matching in expected:
        rows, total = await manager.list_jobs(query, limit=100)
        assert (len(rows), total) == (matching, matching), query


async def test_deleting_a_job_takes_it_out_of_the_counts(manager: JobManager, clock: Clock) -> None:
    await build_history(manager, clock)
    exhausted, _ = await manager.list_jobs(JobFilter(domain="a.example", status=JobStatus.FAILED))

    await manager.delete_job(exhausted[0].id)

    stats = await manager.insights.stats()
    assert stats["jobs"]["byStatus"]["failed"] == 10
    assert stats["retryMetrics"]["totalRetries"] == 12
    assert without_scope(stats) == without_scope(await manager.insights.stats(since=EPOCH))


async def test_running_counts_stay_exact_under_concurrent_changes(
    manager: JobManager, clock: Clock
) -> None:
    """Claims, reports, retries, cancels and deletes racing on one database."""
    created = [
        (await manager.create_job(job_request(domain=f"d{n % 3}.example")))[0] for n in range(24)
    ]

    async def lifecycle(worker: str) -> None:
        job = await manager.claim_next(worker)
        if job is None:
            return
        timeout = Failure(ErrorType.TIMEOUT, "Request timeout")
        token = job.lease_token
        job = await manager.fail_attempt(job.id, timeout, worker_id=worker, lease_token=token)
        # pending again
        with contextlib.suppress(ScrapeJobsError):
            await manager.cancel_job(job.id)

    await asyncio.gather(*(lifecycle(f"w{n}") for n in range(16)))
    await asyncio.gather(
        *(manager.delete_job(job.id) for job in created[:4]),
        *(manager.retry_job(job.id) for job in created[4:10]),
        return_exceptions=True,
    )

    stats = await manager.insights.stats()
    assert without_scope(stats) == without_scope(await manager.insights.stats(since=EPOCH))
    assert stats["jobs"]["total"] == 20


async def test_recount_rebuilds_the_running_counts(
    manager: JobManager, store: SqlStore, clock: Clock
) -> None:
    await build_history(manager, clock)
    before = without_scope(await manager.insights.stats())

    await store.recount()

    assert without_scope(await manager.insights.stats()) == before


async def test_the_report_says_which_sites_hold_their_jobs_back(
    manager: JobManager, clock: Clock
) -> None:
    for domain in ("a.example", "b.example", "c.example"):
        await manager.create_job(job_request(domain=domain))
    await manager.sites.pause("b.example")
    await manager.sites.cool_down(
        "c.example", Failure(ErrorType.RATE_LIMITED, "HTTP 429", 429, 120.0)
    )
    health = (await manager.insights.stats())["siteHealth"]
    assert health["byState"] == {"open": 1, "cooling_down": 1, "circuit_open": 0, "paused": 1}
    assert health["heldBack"] == [
        {
            "site": "c.example",
            "state": "cooling_down",
            "reason": "cooling down: HTTP 429 with Retry-After: 120 s",
            "until": "2024-01-01T12:02:00.000Z",
        },
        {"site": "b.example", "state": "paused", "reason": "paused by an operator", "until": None},
    ]


async def test_a_since_in_year_one_is_written_with_four_digits(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/scrape-jobs/stats", params={"since": "0001-01-01"})
    assert response.status_code == 200
    assert response.json()["data"]["scope"]["since"] == "0001-01-01T00:00:00.000Z"
