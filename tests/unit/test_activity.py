"""Activity: the time buckets and percentiles, and throughput, queue latency and the
running jobs on a known history, every number asserted.

Here on the in-memory store, which counts with ``scrapejobs.activity``'s
functions; ``tests/integration/test_activity.py`` runs the same scenarios
on SQLite and PostgreSQL, where one grouped query per chart counts them.

The history, driven through the manager (times UTC on 2024-01-01, the clock
moved by hand; the wait is from ``scheduled_at`` to the claim):

===  ========================================================================
Z    created 11:05:00, claimed 11:05:00 (wait 0), completed 11:05:59.5: before
     the hour window (11:06 to 12:06), inside the day's
A    created 12:00:00, claimed 12:00:30 (wait 30), completed 12:00:40
B    created 12:00:40, claimed 12:01:10 (wait 30), failed 12:01:20 (no
     autoRetry), retried by hand 12:02:00, claimed 12:03:30 (wait 90),
     completed 12:03:40
C    created 12:03:40, claimed 12:03:45 (wait 5), failed 12:04:00 (timeout,
     retried automatically: failed and retried in the same minute; due again
     after D and E were claimed)
D    created 12:04:00, claimed 12:04:30 (wait 30), running, 3 pages stored
E    created 12:04:40, claimed 12:04:40.5 (wait 0.5), running, 1 page stored
===  ========================================================================

"Now" is 12:05:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scrapejobs.activity import (
    DAY,
    HOUR,
    LatencySummary,
    Span,
    ThroughputBucket,
    Window,
    nearest_rank,
    summarize,
    window,
)
from scrapejobs.events import EventKind
from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import Job, JobStatus
from scrapejobs.manager import JobManager
from scrapejobs.retry import RetryPolicy
from scrapejobs.sites import Breaker
from scrapejobs.store import Store
from tests.conftest import Clock
from tests.factories import complete_running, fail_running, job_request


def at(hour: int, minute: int, second: float = 0) -> datetime:
    return datetime(2024, 1, 1, hour, minute, tzinfo=UTC) + timedelta(seconds=second)


# -- pure: windows and percentiles ----------------------------------------------------


@pytest.mark.parametrize(
    ("span", "now", "start", "end"),
    [
        (HOUR, at(12, 34, 56), at(11, 35), at(12, 35)),
        (HOUR, at(12, 0), at(11, 1), at(12, 1)),
        (DAY, at(12, 5), at(12, 15) - timedelta(days=1), at(12, 15)),
        (DAY, at(0, 14, 59.9), at(0, 15) - timedelta(days=1), at(0, 15)),
    ],
)
def test_a_window_is_aligned_and_its_last_bucket_holds_now(
    span: Span, now: datetime, start: datetime, end: datetime
) -> None:
    win = window(span, now)
    assert (win.start, win.end, win.buckets, win.width) == (start, end, span.buckets, span.width)
    assert win.index(now) == span.buckets - 1


def test_events_fall_in_the_bucket_that_holds_them() -> None:
    win = Window(at(12, 0), 60, 3)
    assert win.index(at(11, 59, 59.999999)) is None
    assert win.index(at(12, 0)) == 0
    assert win.index(at(12, 0, 59.999999)) == 0
    assert win.index(at(12, 1)) == 1
    assert win.index(at(12, 2, 59.5)) == 2
    assert win.index(at(12, 3)) is None
    assert win.bucket_start(2) == at(12, 2)
    assert win.whole() == Window(at(12, 0), 180, 1)


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([], 50, None),
        ([7.0], 50, 7.0),
        ([7.0], 95, 7.0),
        ([1.0, 2.0], 50, 1.0),  # rank ceil(1.0) = 1
        ([1.0, 2.0, 3.0], 50, 2.0),  # rank ceil(1.5) = 2
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([float(n) for n in range(1, 21)], 95, 19.0),  # rank 19 of 20
        ([float(n) for n in range(1, 22)], 95, 20.0),  # rank ceil(19.95) = 20 of 21
        ([float(n) for n in range(1, 101)], 95, 95.0),
        ([float(n) for n in range(1, 101)], 100, 100.0),
    ],
)
def test_nearest_rank(values: list[float], percent: int, expected: float | None) -> None:
    assert nearest_rank(values, percent) == expected


def test_summarize_sorts_and_counts() -> None:
    assert summarize([90.0, 5.0, 30.0, 30.0, 0.5]) == LatencySummary(5, 30.0, 90.0, 90.0)
    assert summarize([]) == LatencySummary(0, None, None, None)


# -- the history ------------------------------------------------------------------------


@pytest.fixture
def manager(store: Store, clock: Clock) -> JobManager:
    return JobManager(store, RetryPolicy(), clock=clock, breaker=Breaker(threshold=10**6))


def page(n: int) -> dict[str, Any]:
    url = f"https://example.com/{n}"
    return {
        "url": url,
        "final_url": url,
        "status": 200,
        "depth": 0,
        "content_type": "text/html",
        "title": f"page {n}",
        "text": "",
        "links": 0,
        "bytes": 10,
        "fetched_at": at(12, 0),
        "error": None,
    }


async def _create(manager: JobManager, auto_retry: bool = False) -> Job:
    job, _ = await manager.create_job(job_request(config={"autoRetry": auto_retry}))
    return job


async def _claim(manager: JobManager, job: Job, worker: str = "w1") -> Job:
    claimed = await manager.claim_next(worker)
    assert claimed is not None and claimed.id == job.id
    return claimed


async def build_history(manager: JobManager, clock: Clock) -> dict[str, str]:
    """The table above; returns the job ids by letter."""
    ids: dict[str, str] = {}
    clock.now = at(11, 5)
    z = await _claim(manager, await _create(manager))
    clock.now = at(11, 5, 59.5)
    await complete_running(manager, z.id, worker_id="w1")

    clock.now = at(12, 0)
    a = await _create(manager)
    clock.now = at(12, 0, 30)
    await _claim(manager, a)
    clock.now = at(12, 0, 40)
    await complete_running(manager, a.id, worker_id="w1")

    b = await _create(manager)
    clock.now = at(12, 1, 10)
    await _claim(manager, b)
    clock.now = at(12, 1, 20)
    await fail_running(manager, b.id, Failure(ErrorType.TIMEOUT, "timeout"), worker_id="w1")
    clock.now = at(12, 2)
    await manager.retry_job(b.id)
    clock.now = at(12, 3, 30)
    await _claim(manager, b)
    clock.now = at(12, 3, 40)
    await complete_running(manager, b.id, worker_id="w1")

    c = await _create(manager, auto_retry=True)
    clock.now = at(12, 3, 45)
    await _claim(manager, c)
    clock.now = at(12, 4)
    retried = await fail_running(manager, c.id, Failure(ErrorType.TIMEOUT, "timeout"))
    assert retried.status is JobStatus.PENDING and retried.scheduled_at > at(12, 4, 40.5)

    d = await _create(manager)
    clock.now = at(12, 4, 30)
    d = await _claim(manager, d, "w2")
    await manager.results.record_pages(d, "w2", [page(1), page(2), page(3)])
    clock.now = at(12, 4, 40)
    e = await _create(manager)
    clock.now = at(12, 4, 40.5)
    e = await _claim(manager, e, "w3")
    await manager.results.record_pages(e, "w3", [page(4)])

    clock.now = at(12, 5)
    ids.update(z=z.id, a=a.id, b=b.id, c=c.id, d=d.id, e=e.id)
    return ids


async def test_a_started_event_records_the_wait_from_due_to_claim(
    manager: JobManager, clock: Clock
) -> None:
    ids = await build_history(manager, clock)
    waits = {
        letter: [e.queue_wait for e in await manager.get_events(job_id) if e.event == "started"]
        for letter, job_id in ids.items()
    }
    assert waits == {
        "z": [0.0],
        "a": [30.0],
        "b": [30.0, 90.0],
        "c": [5.0],
        "d": [30.0],
        "e": [0.5],
    }
    others = [e for e in await manager.get_events(ids["b"]) if e.event != EventKind.STARTED]
    assert {e.queue_wait for e in others} == {None}


def _nonzero(buckets: list[ThroughputBucket], win: Window) -> dict[str, tuple[int, int, int]]:
    return {
        b.start.strftime("%H:%M"): (b.completed, b.failed, b.retried)
        for b in buckets
        if (b.completed, b.failed, b.retried) != (0, 0, 0)
    }


async def test_throughput_of_the_last_hour_per_minute(manager: JobManager, clock: Clock) -> None:
    await build_history(manager, clock)
    hour = await manager.insights.activity(HOUR)
    assert hour.window == Window(at(11, 6), 60, 60)
    assert len(hour.throughput) == 60
    assert hour.throughput[0].start == at(11, 6) and hour.throughput[-1].start == at(12, 5)
    # (completed, failed, retried); Z (11:05:59.5) is before the window
    assert _nonzero(hour.throughput, hour.window) == {
        "12:00": (1, 0, 0),
        "12:01": (0, 1, 0),
        "12:02": (0, 0, 1),
        "12:03": (1, 0, 0),
        "12:04": (0, 1, 1),
    }
    totals = hour.totals
    assert (totals.completed, totals.failed, totals.retried) == (2, 2, 2)


async def test_throughput_of_the_last_day_per_quarter_hour(
    manager: JobManager, clock: Clock
) -> None:
    await build_history(manager, clock)
    day = await manager.insights.activity(DAY)
    assert day.window == Window(at(12, 15) - timedelta(days=1), 900, 96)
    assert _nonzero(day.throughput, day.window) == {"11:00": (1, 0, 0), "12:00": (2, 2, 2)}


async def test_queue_latency_per_minute_and_over_the_hour(
    manager: JobManager, clock: Clock
) -> None:
    await build_history(manager, clock)
    hour = await manager.insights.activity(HOUR)
    by_minute = {b.start.strftime("%H:%M"): b.latency for b in hour.latency if b.latency.count}
    assert by_minute == {
        "12:00": LatencySummary(1, 30.0, 30.0, 30.0),
        "12:01": LatencySummary(1, 30.0, 30.0, 30.0),
        # C waited 5 s, B's retry 90 s: p50 is rank 1, p95 rank 2 of 2
        "12:03": LatencySummary(2, 5.0, 90.0, 90.0),
        "12:04": LatencySummary(2, 0.5, 30.0, 30.0),
    }
    assert len(hour.latency) == 60
    assert hour.latency[0].latency == LatencySummary()
    # 0.5, 5, 30, 30, 30, 90: p50 rank 3, p95 rank ceil(5.7) = 6
    assert hour.overall == LatencySummary(6, 30.0, 90.0, 90.0)


async def test_queue_latency_over_the_day(manager: JobManager, clock: Clock) -> None:
    await build_history(manager, clock)
    day = await manager.insights.activity(DAY)
    # Z's wait of 0 joins them: 0, 0.5, 5, 30, 30, 30, 90
    assert day.overall == LatencySummary(7, 30.0, 90.0, 90.0)
    quarters = {b.start.strftime("%H:%M"): b.latency for b in day.latency if b.latency.count}
    assert quarters == {
        "11:00": LatencySummary(1, 0.0, 0.0, 0.0),
        "12:00": LatencySummary(6, 30.0, 90.0, 90.0),
    }


async def test_no_activity_gives_empty_buckets(manager: JobManager, clock: Clock) -> None:
    hour = await manager.insights.activity(HOUR)
    assert hour.totals == ThroughputBucket(hour.window.start)
    assert hour.overall == LatencySummary()
    assert {b.latency for b in hour.latency} == {LatencySummary()}


async def test_running_jobs_with_the_pages_of_their_attempt(
    manager: JobManager, clock: Clock
) -> None:
    ids = await build_history(manager, clock)
    running = await manager.insights.running()
    assert running.now == at(12, 5)
    assert running.total == 2
    assert [(job.id, job.worker_id, job.attempts, n) for job, n in running.jobs] == [
        (ids["d"], "w2", 1, 3),
        (ids["e"], "w3", 1, 1),
    ]
    first = await manager.insights.running(limit=1)
    assert [job.id for job, _ in first.jobs] == [ids["d"]]
    assert first.total == 2


async def test_pages_of_an_earlier_attempt_do_not_count(manager: JobManager, clock: Clock) -> None:
    job = await _claim(manager, await _create(manager))
    await manager.results.record_pages(job, "w1", [page(1), page(2)])
    await fail_running(manager, job.id, Failure(ErrorType.TIMEOUT, "timeout"), worker_id="w1")
    await manager.retry_job(job.id)
    again = await _claim(manager, job)
    running = await manager.insights.running()
    assert [(j.id, j.attempts, n) for j, n in running.jobs] == [(job.id, 2, 0)]
    await manager.results.record_pages(again, "w1", [page(3)])
    running = await manager.insights.running()
    assert [(j.id, j.attempts, n) for j, n in running.jobs] == [(job.id, 2, 1)]


async def test_no_running_jobs(manager: JobManager) -> None:
    running = await manager.insights.running()
    assert (running.jobs, running.total) == ([], 0)
