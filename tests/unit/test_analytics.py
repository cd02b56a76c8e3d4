"""Retry analytics on a known history: every number asserted.

Here on the in-memory store, whose analytics count in Python; ``tests/
integration/test_stats.py`` runs the same scenarios on SQLite and PostgreSQL,
where they are counted in SQL, so the two are held to the same numbers.

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

from datetime import datetime
from typing import Any

import pytest

from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import JobStatus, JobType, timestamp
from scrapejobs.manager import JobManager
from scrapejobs.retry import RetryPolicy
from scrapejobs.sites import Breaker
from scrapejobs.store import Store
from tests.conftest import Clock
from tests.factories import OK, RETRY, complete_running, fail_running, history, job_request


@pytest.fixture
def manager(store: Store, clock: Clock) -> JobManager:
    """These histories are about retry analytics: their sites' circuits never open
    (``test_breaker.py`` is about those)."""
    return JobManager(store, RetryPolicy(), clock=clock, breaker=Breaker(threshold=10**6))


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
        # No advice for b.example: B1 recovered, so only B2 and B3 (2 jobs) still fail
        # with 429, under MIN_EVIDENCE (test_domain_advice_follows_the_current_failures).
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

    stats = await manager.insights.stats()

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

    stats = await manager.insights.stats(domain="A.Example")

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

    pages = await manager.insights.stats(job_type=JobType.PAGE_SCRAPE)
    assert pages["jobs"]["total"] == 3
    assert pages["retryMetrics"]["totalRetries"] == 0
    assert pages["retryMetrics"]["retrySuccessRate"] is None
    assert [advice["type"] for advice in pages["failureAnalysis"]["recommendations"]] == ["input"]

    recent = await manager.insights.stats(since=before_e)
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
    stats = await manager.insights.stats()

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
    unavailable = Failure(ErrorType.SERVICE_UNAVAILABLE, "HTTP 503", 503)
    job = await fail_running(manager, job.id, unavailable, worker_id="w1")
    assert job.status is JobStatus.PENDING  # the policy retried it
    clock.advance(3600)
    await manager.claim_next("w1")
    await complete_running(manager, job.id, worker_id="w1")

    metrics = (await manager.insights.stats())["retryMetrics"]

    assert metrics["totalRetries"] == 1
    assert metrics["retrysByErrorType"] == {"service_unavailable": 1}
    assert metrics["retryEffectiveness"]["firstRetrySuccess"] == 1.0


async def test_domain_advice_follows_the_current_failures(
    manager: JobManager, clock: Clock
) -> None:
    """A domain's advice counts the jobs failing with that error now; a recovery counts out."""
    jobs = [await history(manager, clock, "g.example", ["rate_limited"]) for _ in range(3)]

    def advice(stats: dict[str, Any]) -> list[dict[str, Any]]:
        found = stats["failureAnalysis"]["recommendations"]
        return [item for item in found if item["type"] == "rate_limiting"]

    [rate_limited] = advice(await manager.insights.stats())
    expected = {"domain": "g.example", "errorType": "rate_limited", "jobs": 3}
    assert rate_limited["evidence"] == expected
    await manager.retry_job(jobs[0].id)
    clock.advance(60)
    await manager.claim_next("w1")
    await complete_running(manager, jobs[0].id, worker_id="w1")
    assert advice(await manager.insights.stats()) == []
