"""Retry analytics on a known history, on SQLite and PostgreSQL: every number asserted.

The history (19 jobs) is built through the real manager, attempt by attempt:

====  ==========  ===========================================  ==========  =========
job   domain      attempts                                     retries     status
====  ==========  ===========================================  ==========  =========
A1    a.example   timeout, ok                                  1           completed
A2    a.example   timeout, timeout, ok                         2           completed
A3    a.example   timeout x4                                   3 (all)     failed
A4    a.example   timeout x4                                   3 (all)     failed
A5    a.example   connection_refused x4                        3 (all)     failed
B1    b.example   rate_limited, ok                             1           completed
B2    b.example   rate_limited                                 0           failed
B3    b.example   rate_limited, rate_limited                   1           failed
C1-3  c.example   not_found (page_scrape jobs)                 0           failed
D1-2  d.example   forbidden                                    0           failed
D3    d.example   dns_resolution                               0           failed
E1-2  e.example   ok                                           0           completed
E3    e.example   (cancelled before it ran)                    0           cancelled
E4    e.example   server_error, then retried                   1           pending
E5    e.example   (never ran)                                  0           pending
====  ==========  ===========================================  ==========  =========
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from scrapejobs.errors import ScrapeJobsError
from scrapejobs.jobs import JobStatus, JobType, timestamp
from scrapejobs.manager import JobManager
from scrapejobs.schemas import JobUpdate
from scrapejobs.storage.store import JobFilter, JobStore
from tests.conftest import Clock
from tests.factories import OK, RETRY, history, job_request


async def build_history(manager: JobManager, clock: Clock) -> datetime:
    """The table above; returns the moment before the e.example jobs were created."""
    for outcomes in (
        ["timeout", OK],
        ["timeout", "timeout", OK],
        ["timeout"] * 4,
        ["timeout"] * 4,
        ["connection_refused"] * 4,
    ):
        await history(manager, clock, "a.example", outcomes)
    for outcomes in (["rate_limited", OK], ["rate_limited"], ["rate_limited"] * 2):
        await history(manager, clock, "b.example", outcomes)
    for _ in range(3):
        await history(manager, clock, "c.example", ["not_found"], job_type="page_scrape")
    for outcomes in (["forbidden"], ["forbidden"], ["dns_resolution"]):
        await history(manager, clock, "d.example", outcomes)
    clock.advance(60)
    before_e = clock()
    clock.advance(1)
    for _ in range(2):
        await history(manager, clock, "e.example", [OK])
    cancelled = await history(manager, clock, "e.example", [])
    await manager.cancel_job(cancelled.id)
    await history(manager, clock, "e.example", ["server_error", RETRY])
    await history(manager, clock, "e.example", [])
    return before_e


EXPECTED_RETRY_METRICS = {
    "totalRetries": 15,
    "retrySuccessRate": 0.4286,  # 3 of the 7 finished retried jobs (E4 is still pending)
    "avgRetriesPerJob": 1.875,  # 15 retries over 8 retried jobs
    "retrysByErrorType": {
        "timeout": 9,
        "connection_refused": 3,
        "rate_limited": 2,
        "server_error": 1,
    },
    "retryEffectiveness": {
        "firstRetrySuccess": 0.2857,  # A1, B1 of A1-A5, B1, B3
        "secondRetrySuccess": 0.25,  # A2 of A2-A5
        "thirdRetrySuccess": 0.0,  # none of A3-A5
    },
}

EXPECTED_FAILURE_ANALYSIS: dict[str, Any] = {
    "mostRetriedDomains": [
        {"domain": "a.example", "retries": 12, "retriedJobs": 5},
        {"domain": "b.example", "retries": 2, "retriedJobs": 2},
        {"domain": "e.example", "retries": 1, "retriedJobs": 1},
    ],
    "commonFailurePatterns": [  # 26 failed attempts
        {"failurePattern": "network_connectivity", "failures": 16, "share": 0.6154},
        {"failurePattern": "rate_limiting", "failures": 4, "share": 0.1538},
        {"failurePattern": "content_missing", "failures": 3, "share": 0.1154},
        {"failurePattern": "access_denied", "failures": 2, "share": 0.0769},
        {"failurePattern": "server_error", "failures": 1, "share": 0.0385},
    ],
    "retryEffectiveness": [
        {"retry": 1, "finished": 7, "succeeded": 2, "successRate": 0.2857},
        {"retry": 2, "finished": 4, "succeeded": 1, "successRate": 0.25},
        {"retry": 3, "finished": 3, "succeeded": 0, "successRate": 0.0},
    ],
    "recommendations": [
        {
            "type": "configuration",
            "message": "Consider increasing default timeout values",
            "impact": "high",
            "evidence": {"timeoutFailures": 11, "failures": 26, "share": 0.4231},
        },
        {
            "type": "retry_policy",
            "message": "3 jobs used all their retries on network_connectivity failures: "
            "more retries will not help; fix the cause, or wait longer between retries",
            "impact": "high",
            "evidence": {"failurePattern": "network_connectivity", "jobs": 3},
        },
        {
            "type": "rate_limiting",
            "message": "b.example keeps answering 429 Too Many Requests (3 jobs): lower its "
            "maxConcurrentRequests and add a delay between requests",
            "impact": "high",
            "evidence": {"domain": "b.example", "errorType": "rate_limited", "jobs": 3},
        },
        {
            "type": "strategy",
            "message": "Review retry strategy - success rate is low",
            "impact": "medium",
            "evidence": {"retrySuccessRate": 0.4286},
        },
        {
            "type": "input",
            "message": "3 attempts failed with 404 Not Found or 410 Gone: the input URLs may "
            "be stale; refresh them before retrying",
            "impact": "medium",
            "evidence": {"failures": 3, "domains": [{"domain": "c.example", "jobs": 3}]},
        },
    ],
}


async def test_stats_of_a_known_history(manager: JobManager, clock: Clock) -> None:
    await build_history(manager, clock)

    stats = await manager.stats()

    assert stats["scope"] == {"domain": None, "since": None, "job_type": None}
    assert stats["generatedAt"] == timestamp(clock())
    assert stats["jobs"] == {
        "total": 19,
        "byStatus": {"pending": 2, "running": 0, "completed": 5, "failed": 11, "cancelled": 1},
    }
    assert stats["retryMetrics"] == EXPECTED_RETRY_METRICS
    assert stats["failureAnalysis"] == EXPECTED_FAILURE_ANALYSIS


async def test_stats_for_one_domain(manager: JobManager, clock: Clock) -> None:
    await build_history(manager, clock)

    stats = await manager.stats(domain="A.Example")

    assert stats["scope"]["domain"] == "a.example"
    assert stats["jobs"]["byStatus"] == {
        "pending": 0, "running": 0, "completed": 2, "failed": 3, "cancelled": 0,
    }  # fmt: skip
    assert stats["retryMetrics"] == {
        "totalRetries": 12,
        "retrySuccessRate": 0.4,  # A1, A2 of A1-A5
        "avgRetriesPerJob": 2.4,
        "retrysByErrorType": {"timeout": 9, "connection_refused": 3},
        "retryEffectiveness": {
            "firstRetrySuccess": 0.2,
            "secondRetrySuccess": 0.25,
            "thirdRetrySuccess": 0.0,
        },
    }
    analysis = stats["failureAnalysis"]
    assert analysis["commonFailurePatterns"] == [
        {"failurePattern": "network_connectivity", "failures": 15, "share": 1.0}
    ]
    assert [advice["type"] for advice in analysis["recommendations"]] == [
        "configuration",
        "retry_policy",
        "strategy",
    ]


async def test_stats_by_job_type_and_since(manager: JobManager, clock: Clock) -> None:
    before_e = await build_history(manager, clock)

    pages = await manager.stats(job_type=JobType.PAGE_SCRAPE)
    assert pages["jobs"]["total"] == 3
    assert pages["retryMetrics"]["totalRetries"] == 0
    assert pages["retryMetrics"]["retrySuccessRate"] is None
    assert [advice["type"] for advice in pages["failureAnalysis"]["recommendations"]] == ["input"]

    recent = await manager.stats(since=before_e)
    assert recent["scope"]["since"] == timestamp(before_e)
    assert recent["jobs"]["byStatus"] == {
        "pending": 2, "running": 0, "completed": 2, "failed": 0, "cancelled": 1,
    }  # fmt: skip
    assert recent["retryMetrics"]["totalRetries"] == 1
    assert recent["retryMetrics"]["retrysByErrorType"] == {"server_error": 1}
    # E4's retry has not run yet: nothing has finished after a retry.
    assert recent["retryMetrics"]["retrySuccessRate"] is None
    assert recent["failureAnalysis"]["retryEffectiveness"][0] == {
        "retry": 1, "finished": 0, "succeeded": 0, "successRate": None,
    }  # fmt: skip


async def test_stats_of_an_empty_store(manager: JobManager) -> None:
    stats = await manager.stats()

    assert stats["jobs"]["total"] == 0
    assert stats["retryMetrics"] == {
        "totalRetries": 0,
        "retrySuccessRate": None,
        "avgRetriesPerJob": None,
        "retrysByErrorType": {},
        "retryEffectiveness": {
            "firstRetrySuccess": None,
            "secondRetrySuccess": None,
            "thirdRetrySuccess": None,
        },
    }
    assert stats["failureAnalysis"]["recommendations"] == []


async def test_automatic_retries_count_like_manual_ones(manager: JobManager, clock: Clock) -> None:
    job, _ = await manager.create_job(job_request(domain="f.example"))
    await manager.claim_next("w1")
    failed = JobUpdate(status="failed", error_message="HTTP 503", httpStatus=503, workerId="w1")
    job = await manager.update_job(job.id, failed)
    assert job.status is JobStatus.PENDING  # the policy retried it
    clock.advance(3600)
    await manager.claim_next("w1")
    await manager.update_job(job.id, JobUpdate(status="completed", workerId="w1"))

    metrics = (await manager.stats())["retryMetrics"]

    assert metrics["totalRetries"] == 1
    assert metrics["retrysByErrorType"] == {"service_unavailable": 1}
    assert metrics["retryEffectiveness"]["firstRetrySuccess"] == 1.0


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
        from_counts = await manager.stats(**scope)  # type: ignore[arg-type]
        from_rows = await manager.stats(since=EPOCH, **scope)  # type: ignore[arg-type]
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
        (JobFilter(failure_pattern="rate_limiting"), 3),
        (JobFilter(status=JobStatus.PENDING, failure_pattern="server_error"), 1),
        (JobFilter(domain="nowhere.example"), 0),
        (JobFilter(failure_pattern=""), 0),
        (JobFilter(status=JobStatus.FAILED, error_contains="timeout"), 2),  # counts the rows
    ]
    for query, matching in expected:
        rows, total = await manager.list_jobs(query, limit=100)
        assert (len(rows), total) == (matching, matching), query


async def test_deleting_a_job_takes_it_out_of_the_counts(manager: JobManager, clock: Clock) -> None:
    await build_history(manager, clock)
    exhausted, _ = await manager.list_jobs(JobFilter(domain="a.example", status=JobStatus.FAILED))

    await manager.delete_job(exhausted[0].id)

    stats = await manager.stats()
    assert stats["jobs"]["byStatus"]["failed"] == 10
    assert stats["retryMetrics"]["totalRetries"] == 12
    assert without_scope(stats) == without_scope(await manager.stats(since=EPOCH))


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
        failed = JobUpdate(status="failed", error_message="Request timeout", workerId=worker)
        job = await manager.update_job(job.id, failed)  # automatic retry: pending again
        with contextlib.suppress(ScrapeJobsError):
            await manager.cancel_job(job.id)

    await asyncio.gather(*(lifecycle(f"w{n}") for n in range(16)))
    await asyncio.gather(
        *(manager.delete_job(job.id) for job in created[:4]),
        *(manager.retry_job(job.id) for job in created[4:10]),
        return_exceptions=True,
    )

    stats = await manager.stats()
    assert without_scope(stats) == without_scope(await manager.stats(since=EPOCH))
    assert stats["jobs"]["total"] == 20


async def test_recount_rebuilds_the_running_counts(
    manager: JobManager, store: JobStore, clock: Clock
) -> None:
    await build_history(manager, clock)
    before = without_scope(await manager.stats())

    await store.recount()

    assert without_scope(await manager.stats()) == before
