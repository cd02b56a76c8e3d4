"""The dashboard view models (``views``, ``job_view``, ``forms``, ``charts``): plain values."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from scrapejobs.events import EventKind, JobEvent
from scrapejobs.failures import ErrorType, Failure, FailurePattern
from scrapejobs.jobs import DEFAULT_CONFIG, Job, JobStatus, JobType, LastRetry
from scrapejobs.schemas import JobCreate
from scrapejobs.site_manager import SiteView
from scrapejobs.sites import Site
from scrapejobs.web import charts, forms, job_view, jobs_table, views
from scrapejobs.web.domains_page import site_row
from scrapejobs.web.pages import api_validation_details
from tests.factories import STATS_REPORT, build_job

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
JOB_ID = "123e4567-e89b-12d3-a456-426614174000"


def make_job(**changes: Any) -> Job:
    job = build_job(
        id=JOB_ID,
        status=JobStatus.FAILED,
        metadata={},
        failure=Failure(ErrorType.TIMEOUT, "Request timeout"),
        created_at=NOW - timedelta(hours=1),
        updated_at=NOW - timedelta(minutes=5),
        scheduled_at=NOW - timedelta(hours=1),
    )
    return replace(job, **changes)


# -- formatting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        (None, 10, ""),
        ("", 10, ""),
        ("short", 10, "short"),
        ("exactly 10", 10, "exactly 10"),
        ("Connection   refused\nby peer", 16, "Connection refu…"),
        ("a" * 100, 80, "a" * 79 + "…"),
    ],
)
def test_shorten(text: str | None, limit: int, expected: str) -> None:
    assert views.shorten(text, limit) == expected
    assert len(views.shorten(text, limit)) <= limit


def test_retries_label_counts_as_the_seed_button() -> None:
    assert views.retries_label(make_job(retry_count=1, max_retries=3)) == "1/3"


def test_when_is_the_api_timestamp_for_people() -> None:
    assert (
        views.when(datetime(2024, 1, 1, 12, 0, 5, 123000, tzinfo=UTC)) == "2024-01-01 12:00:05 UTC"
    )
    assert views.when(None) == ""


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, "now"), (0.4, "now"), (12, "in 12 s"), (-12, "12 s ago"), (240, "in 4 min"),
     (-7200, "2 h ago"), (3 * 86400, "in 3 d")],
)  # fmt: skip
def test_relative(seconds: float, expected: str) -> None:
    assert views.relative(NOW + timedelta(seconds=seconds), NOW) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.85, "850 ms"), (4.25, "4.2 s"), (185, "3 min 5 s"), (7800, "2 h 10 min")],
)
def test_duration(seconds: float, expected: str) -> None:
    assert views.duration(NOW, NOW + timedelta(seconds=seconds)) == expected


def test_duration_of_a_running_attempt_is_empty() -> None:
    assert views.duration(NOW, None) == ""


@pytest.mark.parametrize(
    ("status", "scheduled", "expected"),
    [
        (JobStatus.PENDING, NOW - timedelta(seconds=1), "due now"),
        (JobStatus.PENDING, NOW + timedelta(seconds=48), "in 48 s"),
        (JobStatus.RUNNING, NOW, "running now"),
        (JobStatus.FAILED, NOW + timedelta(seconds=48), ""),
        (JobStatus.COMPLETED, NOW, ""),
    ],
)
def test_next_run(status: JobStatus, scheduled: datetime, expected: str) -> None:
    assert views.next_run(make_job(status=status, scheduled_at=scheduled), NOW) == expected


def test_last_error_falls_back_to_the_error_a_retry_put_aside() -> None:
    assert views.last_error(make_job()) == "Request timeout"
    retried = make_job(status=JobStatus.PENDING, failure=Failure(ErrorType.TIMEOUT, "x"))
    assert retried.error_message is None
    assert views.last_error(retried) == "x"
    assert views.last_error(make_job(status=JobStatus.COMPLETED, failure=None)) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("HTTP://example.com/", "HTTP://example.com/"),
        ("javascript:alert(1)", None),
        (" javascript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("/relative", None),
        ("http://", None),
        ("http://[::1", None),
        (None, None),
        (42, None),
    ],
)
def test_safe_href_links_only_http_urls(url: object, expected: str | None) -> None:
    assert views.safe_href(url) == expected


def test_display_value() -> None:
    assert views.display_value("text <b>") == "text <b>"
    assert views.display_value(True) == "true"
    assert views.display_value(None) == "null"
    assert views.display_value({"b": 1, "a": [1, "é"]}) == '{"a": [1, "é"], "b": 1}'


def test_cancel_and_delete_follow_the_state_machine() -> None:
    allowed = {
        status: (
            job_view.can_cancel(make_job(status=status)),
            job_view.can_delete(make_job(status=status)),
        )
        for status in JobStatus
    }
    assert allowed == {
        JobStatus.PENDING: (True, True),
        JobStatus.RUNNING: (True, False),
        JobStatus.COMPLETED: (False, True),
        JobStatus.FAILED: (False, True),
        JobStatus.CANCELLED: (False, True),
    }


# -- the jobs table -----------------------------------------------------------------------


def test_parse_filters_reads_and_normalises_the_query_string() -> None:
    filters, errors = jobs_table.parse_filters(
        {
            "status": "failed",
            "domain": " Example.COM ",
            "job_type": "page_scrape",
            "failure_pattern": "rate_limiting",
            "page": "3",
        }
    )
    assert errors == {}
    assert filters == jobs_table.JobFilters(
        JobStatus.FAILED, "example.com", JobType.PAGE_SCRAPE, FailurePattern.RATE_LIMITING, 3
    )


def test_parse_filters_reports_each_bad_field() -> None:
    filters, errors = jobs_table.parse_filters(
        {"status": "lost", "domain": "a b", "job_type": "x", "failure_pattern": "y", "page": "-2"}
    )
    assert filters == jobs_table.JobFilters()
    assert errors == {
        "status": "Unknown status 'lost'",
        "domain": "domain must not contain white space",
        "job_type": "Unknown job type 'x'",
        "failure_pattern": "Unknown failure pattern 'y'",
    }


@pytest.mark.parametrize(("raw", "page"), [(None, 1), ("", 1), ("0", 1), ("abc", 1), ("7", 7)])
def test_parse_filters_page(raw: str | None, page: int) -> None:
    params = {"page": raw} if raw is not None else {}
    assert jobs_table.parse_filters(params)[0].page == page


def test_filter_query_keeps_the_page_until_a_filter_changes() -> None:
    filters = jobs_table.JobFilters(status=JobStatus.FAILED, domain="example.com", page=2)
    assert filters.query() == "status=failed&domain=example.com&page=2"
    assert filters.query(page=3) == "status=failed&domain=example.com&page=3"
    assert filters.query(status=JobStatus.PENDING) == "status=pending&domain=example.com"
    assert filters.query(status=None) == "domain=example.com"
    assert jobs_table.JobFilters().query() == ""


def test_job_row() -> None:
    row = jobs_table.job_row(
        make_job(failure=Failure(ErrorType.TIMEOUT, "x" * 200), retry_count=1), NOW
    )
    assert (row.retries, row.status, row.failure_pattern) == (
        "1/3",
        "failed",
        "network_connectivity",
    )
    assert row.error == "x" * 200 and row.error_short == "x" * 79 + "…"
    assert (row.updated, row.next_run, row.next_run_iso) == ("5 min ago", "", None)
    pending = jobs_table.job_row(make_job(status=JobStatus.PENDING, scheduled_at=NOW), NOW)
    assert (pending.next_run, pending.next_run_iso) == ("due now", "2024-01-01T12:00:00.000Z")


def test_status_counts_link_to_each_status_keeping_the_other_filters() -> None:
    filters = jobs_table.JobFilters(status=JobStatus.FAILED, domain="example.com", page=4)
    counts = jobs_table.status_counts({JobStatus.PENDING: 2, JobStatus.FAILED: 3}, filters)
    assert [(c.label, c.count, c.current) for c in counts] == [
        ("all", 5, False),
        ("pending", 2, False),
        ("running", 0, False),
        ("completed", 0, False),
        ("failed", 3, True),
        ("cancelled", 0, False),
    ]
    assert counts[0].query == "domain=example.com"
    assert counts[1].query == "status=pending&domain=example.com"


@pytest.mark.parametrize(
    ("total", "page", "expected"),
    [
        (0, 1, (1, 1, 0, 0, None, None)),
        (25, 1, (1, 1, 1, 25, None, None)),
        (30, 1, (1, 2, 1, 25, None, "page=2")),
        (30, 2, (2, 2, 26, 30, "", None)),
        (60, 2, (2, 3, 26, 50, "", "page=3")),
        (30, 9, (2, 2, 26, 30, "", None)),
    ],
)
def test_paginate(total: int, page: int, expected: tuple[Any, ...]) -> None:
    p = jobs_table.paginate(total, jobs_table.JobFilters(page=page), size=25)
    assert (p.page, p.pages, p.first, p.last, p.previous_query, p.next_query) == expected


# -- the retry control ------------------------------------------------------------------


def test_retry_control_ready_says_what_the_next_attempt_is() -> None:
    control = job_view.retry_control(make_job(retry_count=1, max_retries=3))
    assert control == job_view.RetryControl(
        "ready", "Retry (1/3)", "Next attempt will be attempt 2 of 3"
    )


@pytest.mark.parametrize(("count", "limit"), [(3, 3), (4, 3), (0, 0)])
def test_retry_control_exhausted(count: int, limit: int) -> None:
    control = job_view.retry_control(make_job(retry_count=count, max_retries=limit))
    assert control.state == "exhausted"
    assert control.label == f"Max retries reached ({count}/{limit})"
    assert control.info == "Permanent failure"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (JobStatus.PENDING, "Job is already queued"),
        (JobStatus.RUNNING, "Job is currently in progress"),
        (JobStatus.COMPLETED, "Job is not in a failed state"),
        (JobStatus.CANCELLED, "Cancelled jobs are intentionally stopped"),
    ],
)
def test_retry_control_unavailable_gives_the_api_reason(status: JobStatus, reason: str) -> None:
    control = job_view.retry_control(make_job(status=status, retry_count=3, max_retries=3))
    assert (control.state, control.label, control.reason) == (
        "unavailable",
        "Retries used: 3/3",
        reason,
    )


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (
            {"currentStatus": "pending", "reason": "Job is already queued"},
            "Job cannot be retried: Job is already queued",
        ),
        ({"jobId": "x", "currentRetries": 3, "maxRetries": 3}, "Job cannot be retried (3/3)"),
        ("Cancel it first", "Job cannot be retried: Cancel it first"),
        (None, "Job cannot be retried"),
    ],
)
def test_refusal_text(details: Any, expected: str) -> None:
    assert job_view.refusal_text("Job cannot be retried", details) == expected


# -- the timeline ---------------------------------------------------------------------------


def event(kind: EventKind, minute: int, **fields: Any) -> JobEvent:
    defaults: dict[str, Any] = {"actor": "w1", "retry_count": 0}
    return JobEvent(
        job_id=JOB_ID, at=NOW + timedelta(minutes=minute), event=kind, **{**defaults, **fields}
    )


def retried(minute: int, number: int, actor: str, changes: dict[str, Any]) -> JobEvent:
    details = {
        "reason": "Manual retry after timeout error",
        "scheduledAt": f"2024-01-01T12:{minute:02d}:30.000Z",
        "configChanges": changes,
    }
    return event(
        EventKind.RETRIED, minute, actor=actor, retry_count=number, details=details,
        error_type="timeout",
    )  # fmt: skip


HISTORY = [
    event(EventKind.CREATED, 0, actor="api"),
    event(EventKind.STARTED, 1, attempt=1),
    event(EventKind.FAILED, 2, attempt=1, error_type="timeout", error_message="Request timeout",
          failure_pattern="network_connectivity"),
    retried(3, 1, "api", {"timeout": 45000}),
    event(EventKind.UPDATED, 4, actor="api", details={"config": {"delay": 500, "depth": None}}),
    event(EventKind.STARTED, 5, attempt=2, actor="w2"),
    event(EventKind.FAILED, 6, attempt=2, error_type="timeout", http_status=504,
          error_message="Gateway timeout"),
    retried(6, 2, "system", {"timeout": 67500}),
]  # fmt: skip


def test_timeline_pairs_each_attempt_with_the_retry_that_started_it() -> None:
    history = job_view.timeline(HISTORY)
    first, second = history.attempts
    assert (first.number, first.outcome, first.error_type, first.duration) == (
        1,
        "failed",
        "timeout",
        "1 min 0 s",
    )
    assert first.retried_by is None
    assert second.retried_by is not None and second.retried_by.actor == "api"
    assert (second.worker, second.http_status, second.message) == ("w2", "504", "Gateway timeout")
    assert [retry.number for retry in history.retries] == [1, 2]
    assert history.upcoming is history.retries[1]
    assert history.upcoming.automatic and history.upcoming.answered == "timeout"
    assert history.upcoming.scheduled_at == datetime(2024, 1, 1, 12, 6, 30, tzinfo=UTC)


def test_timeline_knows_a_changed_value_only_once_an_event_recorded_it() -> None:
    history = job_view.timeline(HISTORY)
    assert history.retries[0].changes == (job_view.ConfigChange("timeout", "45000", None),)
    assert history.retries[1].changes == (job_view.ConfigChange("timeout", "67500", "45000"),)
    (_, edits), = history.edits  # fmt: skip
    assert edits == (job_view.ConfigChange("delay", "500"), job_view.ConfigChange("depth", "3"))


def test_timeline_without_retries() -> None:
    history = job_view.timeline(
        [event(EventKind.CREATED, 0), event(EventKind.STARTED, 1, attempt=1)]
    )
    assert history.retries == [] and history.upcoming is None
    assert history.attempts[0].outcome == "running" and history.attempts[0].duration == ""


def test_config_rows_note_the_retries_and_edits_that_changed_a_key() -> None:
    config = {**DEFAULT_CONFIG, "timeout": 67500, "delay": 500, "startUrl": "https://e.com/"}
    rows = {row.key: row for row in job_view.config_rows(config, job_view.timeline(HISTORY))}
    assert list(rows)[:2] == ["depth", "maxPages"] and list(rows)[-1] == "startUrl"
    assert rows["timeout"].value == "67500"
    assert rows["timeout"].changes == (
        "retry 1 (api): set to 45000",
        "retry 2 (system): 45000 → 67500",
    )
    assert rows["delay"].changes == ("edit (api): set to 500",)
    assert rows["respectRobots"].value == "true" and rows["respectRobots"].changes == ()


def test_job_summary_leaves_out_empty_facts() -> None:
    job = make_job(last_retry=LastRetry("Manual retry", "x", NOW - timedelta(hours=1), "api"))
    items = {item.label: item for item in job_view.job_summary(job, NOW)}
    assert items["Status"].text == "failed"
    assert items["Retries"].text == "0/3"
    assert items["Next run"].text == "none: the job is failed"
    assert items["Last retry"].text == "2024-01-01 11:00:00 UTC by api: Manual retry"
    assert items["Updated"].iso == "2024-01-01T11:55:00.000Z"
    assert "Worker" not in items and "Started" not in items and "HTTP status" not in items


def test_page_rows_never_link_a_script_url() -> None:
    rows = job_view.page_rows(
        [
            {"url": "https://e.com/", "status": 200, "title": "<b>Home</b>", "error": None},
            {"url": "javascript:alert(1)", "status": None, "title": None, "error": "boom"},
        ]
    )
    assert rows[0] == job_view.PageRow("https://e.com/", "https://e.com/", "200", "<b>Home</b>", "")
    assert rows[1] == job_view.PageRow("javascript:alert(1)", None, "", "", "boom")


# -- bulk retry ----------------------------------------------------------------------------


def test_bulk_preview_counts_who_is_under_the_limit() -> None:
    jobs = [make_job(), make_job(retry_count=2), make_job(retry_count=3), make_job(max_retries=0)]
    assert forms.bulk_preview(jobs, matched=1200) == forms.BulkPreview(1200, 4, 2, 2)


def test_bulk_form_uses_the_api_field_names() -> None:
    values = forms.bulk_values({"domain": " example.com ", "other": "x"})
    assert values == {"domain": "example.com", "failurePattern": ""}
    assert forms.bulk_request_body(values) == {"domain": "example.com"}


@dataclass(frozen=True)
class Outcome:
    jobId: str
    success: bool
    message: str
    job: Job | None = None


def test_bulk_results_summarise_as_the_api() -> None:
    results = forms.bulk_results(
        [Outcome("a", True, "Job scheduled for retry (attempt 1/3)"), Outcome("b", False, "no")]
    )
    assert results.summary == "Retried 1 of 2 matching failed jobs"
    assert results.retried == 1
    assert results.rows == [
        ("a", True, "Job scheduled for retry (attempt 1/3)"),
        ("b", False, "no"),
    ]


# -- the submit form --------------------------------------------------------------------------


def test_job_request_body_from_a_form() -> None:
    body, errors = forms.job_request_body(
        {
            "domain": " example.com ",
            "job_type": "page_scrape",
            "priority": "7",
            "max_retries": "",
            "config.depth": "-1",
            "config.timeout": "1e3",
            "config.userAgent": "bot",
            "config.respectRobots": "on",
            "metadata": '{"team": "search"}',
        }
    )
    assert errors == []
    assert body == {
        "domain": "example.com",
        "job_type": "page_scrape",
        "priority": 7,
        "config": {
            "depth": -1,
            "timeout": "1e3",
            "userAgent": "bot",
            "respectRobots": True,
            "respectRetryAfter": False,
            "autoRetry": False,
        },
        "metadata": {"source": "dashboard", "team": "search"},
    }


@pytest.mark.parametrize("metadata", ["not json", "[1, 2]", '"text"'])
def test_job_request_body_refuses_metadata_that_is_not_an_object(metadata: str) -> None:
    body, errors = forms.job_request_body({"domain": "e.com", "metadata": metadata})
    assert errors == [{"field": "body.metadata", "message": "must be a JSON object"}]
    assert body["metadata"] == {"source": "dashboard"}


def test_a_user_given_source_wins() -> None:
    body, _ = forms.job_request_body({"metadata": '{"source": "import"}'})
    assert body["metadata"] == {"source": "import"}


def test_validation_errors_are_the_apis_keyed_by_form_field() -> None:
    body, _ = forms.job_request_body({"priority": "11", "config.timeout": "1e3"})
    with pytest.raises(ValidationError) as caught:
        JobCreate.model_validate(body)
    details = api_validation_details(caught.value)
    assert {"field": "body.priority", "message": "Input should be less than or equal to 10"} in (
        details
    )
    assert forms.errors_by_field(details) == {
        "domain": ["Field required"],
        "priority": ["Input should be less than or equal to 10"],
        "config.timeout": ["Input should be a valid integer"],
    }


def test_errors_about_the_whole_body_are_keyed_empty() -> None:
    details = [{"field": "body", "message": "give at least one of domain"}]
    assert forms.errors_by_field(details) == {"": ["give at least one of domain"]}


# -- requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "host", "fetch_site", "cross"),
    [
        (None, "localhost:3000", None, False),  # curl, scripts
        ("http://localhost:3000", "localhost:3000", "same-origin", False),
        ("http://LOCALHOST:3000", "localhost:3000", None, False),
        (None, "localhost:3000", "none", False),  # typed into the address bar
        ("https://evil.example", "localhost:3000", "cross-site", True),
        ("https://evil.example", "localhost:3000", None, True),
        ("http://localhost:4000", "localhost:3000", "same-site", True),
        ("null", "localhost:3000", None, True),
        (None, "localhost:3000", "cross-site", True),
    ],
)
def test_is_cross_site(origin: str | None, host: str, fetch_site: str | None, cross: bool) -> None:
    assert views.is_cross_site(origin, host, fetch_site) is cross


# -- analytics ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "text"), [(None, "no data"), (0.5, "50%"), (0.6667, "66.7%"), (1, "100%"), (0, "0%")]
)
def test_percent_text(rate: float | None, text: str) -> None:
    assert charts.percent_text(rate) == text


def test_count_bars_scale_to_the_largest() -> None:
    bars = charts.count_bars([("a", 4, None), ("b", 3, "/jobs?x=1"), ("c", 0, None)])
    assert [(b.label, b.display, b.percent, b.href) for b in bars] == [
        ("a", "4", 100.0, None),
        ("b", "3", 75.0, "/jobs?x=1"),
        ("c", "0", 0.0, None),
    ]
    assert [b.percent for b in charts.count_bars([("a", 0, None)])] == [0.0]


def test_rate_bars_are_the_rate_itself() -> None:
    bars = charts.rate_bars([("Retry 1", 0.5, "2 of 4"), ("Retry 2", None, ""), ("x", 1.5, "")])
    assert [(b.display, b.percent) for b in bars] == [
        ("50% (2 of 4)", 50.0),
        ("no data", 0.0),
        ("150%", 100.0),
    ]


def test_analytics_view_of_the_stats_shape() -> None:
    view = charts.analytics_view(STATS_REPORT)
    assert view.headlines == [
        ("Jobs", "12"),
        ("Retries", "9"),
        ("Retry success rate", "66.7%"),
        ("Retries per retried job", "1.8"),
    ]
    by_id = {chart.id: chart for chart in view.charts}
    assert [(b.label, b.display, b.percent) for b in by_id["retries-by-error-type"].bars] == [
        ("timeout", "4", 100.0),
        ("rate_limited", "3", 75.0),
    ]
    assert [(b.label, b.display) for b in by_id["retry-effectiveness"].bars] == [
        ("Retry 1", "50% (2 of 4)")
    ]
    (pattern,) = by_id["failure-patterns"].bars
    assert (pattern.display, pattern.href) == (
        "6 (50%)",
        "/jobs?failure_pattern=network_connectivity",
    )
    (domain,) = by_id["most-retried-domains"].bars
    assert (domain.label, domain.display, domain.href) == (
        "a.example",
        "5 (3 jobs)",
        "/jobs?domain=a.example",
    )
    status_bars = by_id["jobs-by-status"].bars
    assert [b.href for b in status_bars][:2] == ["/jobs?status=pending", "/jobs?status=running"]
    (advice,) = view.recommendations
    assert advice.impact == "high"
    assert advice.evidence == [("timeoutFailures", "4"), ("failures", "6"), ("share", "66.7%")]
    assert view.scope == [] and view.generated_at == "2026-11-28T17:40:00.000Z"


def test_analytics_view_falls_back_to_the_seed_effectiveness_block() -> None:
    stats = {**STATS_REPORT, "failureAnalysis": {}}
    chart = charts.analytics_view(stats).charts[2]
    assert [(b.label, b.display) for b in chart.bars] == [
        ("first retry", "50%"),
        ("second retry", "33.3%"),
        ("third retry", "no data"),
    ]


def test_analytics_view_of_an_empty_database() -> None:
    view = charts.analytics_view({"jobs": {"total": 0, "byStatus": {"pending": 0}}})
    assert all(chart.bars == [] for chart in view.charts)
    assert view.headlines[2] == ("Retry success rate", "no data")
    assert view.recommendations == []


def test_scoped_links_keep_the_scope() -> None:
    stats = {
        **STATS_REPORT,
        "scope": {"domain": "a.example", "since": None, "job_type": "page_scrape"},
    }
    view = charts.analytics_view(stats)
    assert (
        view.charts[0].bars[0].href == "/jobs?domain=a.example&job_type=page_scrape&status=pending"
    )
    assert view.scope == [("domain", "a.example"), ("job_type", "page_scrape")]


def test_parse_analytics_filters() -> None:
    filters, errors = charts.parse_analytics_filters(
        {"domain": "A.example", "job_type": "page_scrape", "since": "2024-01-02"}
    )
    assert errors == {}
    assert filters == charts.AnalyticsFilters(
        "a.example", JobType.PAGE_SCRAPE, datetime(2024, 1, 2, tzinfo=UTC), "2024-01-02"
    )
    _, errors = charts.parse_analytics_filters({"domain": "a/b", "job_type": "x", "since": "soon"})
    assert set(errors) == {"domain", "job_type", "since"}


def test_the_summary_says_what_the_jobs_site_is_doing() -> None:
    job = make_job(status=JobStatus.PENDING)
    cooling = Site(
        "example.com",
        updated_at=NOW,
        cooldown_until=NOW + timedelta(seconds=90),
        cooldown_reason="HTTP 429 with Retry-After: 90 s",
    )
    items = {item.label: item.text for item in job_view.job_summary(job, NOW, cooling)}
    assert items["Site"] == (
        "example.com: cooling down until 2024-01-01 12:01:30 UTC, in 1 min "
        "(HTTP 429 with Retry-After: 90 s)"
    )
    paused = replace(cooling, paused=True)
    assert job_view.site_text(paused, NOW) == (
        "example.com: paused (its jobs wait until it is resumed)"
    )
    assert job_view.site_text(cooling, NOW + timedelta(seconds=91)) == "example.com: open"


def test_the_job_page_says_when_its_sites_circuit_is_open_or_probing() -> None:
    down = Site(
        "down.example",
        updated_at=NOW,
        breaker_until=NOW + timedelta(seconds=30),
        breaker_reason="5 attempts in a row failed, the last with connection_refused",
    )
    assert job_view.site_text(down, NOW) == (
        "down.example: circuit open until 2024-01-01 12:00:30 UTC, in 30 s "
        "(5 attempts in a row failed, the last with connection_refused)"
    )
    assert job_view.site_text(down, NOW + timedelta(seconds=31)) == (
        "down.example: circuit half-open, one probe job tests it "
        "(5 attempts in a row failed, the last with connection_refused)"
    )


def test_a_domains_row_shows_the_hold_and_the_limits() -> None:
    site = Site(
        "shop.example",
        updated_at=NOW,
        cooldown_until=NOW + timedelta(seconds=120),
        cooldown_reason="HTTP 429 with Retry-After: 120 s",
        max_requests_per_second=2.5,
    )
    jobs = dict.fromkeys(JobStatus, 0) | {JobStatus.PENDING: 3}
    row = site_row(SiteView(site, NOW, jobs, workers=2))
    assert (row.state, row.why) == (
        "cooling_down",
        "cooling down: HTTP 429 with Retry-After: 120 s",
    )
    assert row.until == "2024-01-01 12:02:00 UTC, in 2 min"
    assert (row.limits, row.workers, row.pending, row.holds) == ("2.5/s, 8 at once", 2, 3, True)
