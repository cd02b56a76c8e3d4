"""The activity charts and the running-now rows as the templates draw them, with plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scrapejobs.activity import (
    DAY,
    HOUR,
    Activity,
    LatencySummary,
    Span,
    latency_series,
    throughput_series,
    window,
)
from scrapejobs.events import EventKind
from scrapejobs.jobs import JobStatus, JobType
from scrapejobs.web.activity_view import (
    CHART_HEIGHT,
    activity_view,
    page_limit,
    parse_span,
    running_row,
    wait_text,
)
from tests.factories import build_job

NOW = datetime(2024, 1, 1, 12, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "span"), [(None, HOUR), ("hour", HOUR), ("day", DAY), ("week", HOUR), ("", HOUR)]
)
def test_parse_span(raw: str | None, span: Span) -> None:
    assert parse_span(raw) is span


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0.0, "0 ms"), (0.0125, "12 ms"), (5.0, "5.0 s"), (90.0, "1 min 30 s")],
)
def test_wait_text(seconds: float | None, text: str) -> None:
    assert wait_text(seconds) == text


def _activity() -> Activity:
    win = window(HOUR, NOW)
    counts = {(EventKind.COMPLETED, 57): 4, (EventKind.COMPLETED, 59): 2, (EventKind.FAILED, 59): 1}
    waits = {57: LatencySummary(2, 5.0, 90.0, 90.0), 59: LatencySummary(1, 30.0, 30.0, 30.0)}
    overall = LatencySummary(3, 30.0, 90.0, 90.0)
    return Activity(
        HOUR, win, NOW, throughput_series(win, counts), latency_series(win, waits), overall
    )


def test_throughput_columns_are_relative_to_the_series_peak() -> None:
    view = activity_view(_activity())
    assert (view.span, view.caption, view.width, view.height) == (
        "hour",
        "Last hour, per minute",
        60,
        CHART_HEIGHT,
    )
    assert view.spans == [
        ("hour", "Last hour, per minute", True),
        ("day", "Last day, per 15 minutes", False),
    ]
    completed, failed, retried = view.throughput
    assert (completed.id, completed.total, completed.peak) == ("completed", "6", "4")
    assert completed.columns[57].height == CHART_HEIGHT and completed.columns[57].y == 0
    assert completed.columns[59].height == CHART_HEIGHT / 2
    assert completed.columns[59].title == "12:05 UTC: 2 completed"
    assert completed.columns[0].height == 0 and completed.columns[0].x == 0.1
    assert (failed.total, failed.columns[59].height) == ("1", CHART_HEIGHT)
    assert (retried.total, {c.height for c in retried.columns}) == ("0", {0.0})
    assert [(row.start, row.cells) for row in view.throughput_rows] == [
        ("12:03", [("completed", "4"), ("failed", "0"), ("retried", "0")]),
        ("12:05", [("completed", "2"), ("failed", "1"), ("retried", "0")]),
    ]
    assert (view.start, view.end) == ("2024-01-01 11:06:00 UTC", "2024-01-01 12:05:30 UTC")


def test_latency_headline_and_columns() -> None:
    view = activity_view(_activity())
    assert view.latency_headline == [
        ("Attempts started", "3"),
        ("p50 wait", "30.0 s"),
        ("p95 wait", "1 min 30 s"),
        ("Longest wait", "1 min 30 s"),
    ]
    p95, p50 = view.latency
    assert (p95.total, p95.peak, p95.columns[57].height) == ("1 min 30 s", "1 min 30 s", 40)
    assert p95.columns[59].height == round(30 / 90 * CHART_HEIGHT, 2)
    assert (p50.columns[57].height, p50.columns[59].height) == (round(5 / 30 * 40, 2), 40)
    assert [row.cells for row in view.latency_rows] == [
        [("count", "2"), ("p50", "5.0 s"), ("p95", "1 min 30 s"), ("max", "1 min 30 s")],
        [("count", "1"), ("p50", "30.0 s"), ("p95", "30.0 s"), ("max", "30.0 s")],
    ]


def test_an_empty_range_draws_no_columns() -> None:
    win = window(DAY, NOW)
    empty = Activity(
        DAY, win, NOW, throughput_series(win, {}), latency_series(win, {}), LatencySummary()
    )
    view = activity_view(empty)
    assert view.caption == "Last day, per 15 minutes"
    assert {c.height for series in view.throughput + view.latency for c in series.columns} == {0.0}
    assert [s.peak for s in view.latency] == ["—", "—"]
    assert view.throughput_rows == view.latency_rows == []
    assert view.latency_headline[0] == ("Attempts started", "0")


@pytest.mark.parametrize(
    ("job_type", "config", "limit"),
    [
        (JobType.DOMAIN_SCRAPE, {"maxPages": 50}, 50),
        (JobType.SITEMAP_SCRAPE, {"maxPages": 7}, 7),
        (JobType.PAGE_SCRAPE, {"maxPages": 50}, 1),
        (JobType.DOMAIN_SCRAPE, {}, 1),
    ],
)
def test_page_limit(job_type: JobType, config: dict[str, int], limit: int) -> None:
    assert page_limit(build_job(job_type=job_type, config=config)) == limit


def test_running_row() -> None:
    started = NOW - timedelta(seconds=65)
    job = build_job(
        status=JobStatus.RUNNING,
        config={"maxPages": 40},
        attempts=3,
        retry_count=2,
        worker_id="crawler-7",
        started_at=started,
        lease_expires_at=NOW + timedelta(seconds=40),
    )
    row = running_row(job, 10, NOW)
    assert (row.worker, row.attempt, row.pages, row.limit, row.percent) == (
        "crawler-7",
        "retry 2",
        10,
        40,
        25.0,
    )
    assert (row.started, row.running_for) == ("2024-01-01 12:04:25 UTC", "1 min 5 s")
    assert (row.lease, row.lease_expired) == ("2024-01-01 12:06:10 UTC, in 40 s", False)
    late = running_row(job, 55, NOW + timedelta(minutes=1))
    assert (late.lease_expired, late.percent) == (True, 100.0)
    assert late.lease.endswith("20 s ago")
