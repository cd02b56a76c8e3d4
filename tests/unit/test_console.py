"""The CLI's pure parts: the stats report, the progress view, the exports, the small formats.

Rendered with a plain Rich console of a fixed width; no server, no I/O.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console, RenderableType

from scrapejobs.client import JobList
from scrapejobs.console.commands import since_timestamp
from scrapejobs.console.common import detail_lines
from scrapejobs.console.export import write_csv, write_json, write_jsonl
from scrapejobs.console.report import percent, stats_report
from scrapejobs.console.views import jobs_footer, jobs_table, moment, took
from scrapejobs.console.watch import next_retry, progress_view, summary
from scrapejobs.jobs import PAGE_FIELDS
from tests.factories import STATS_REPORT

NOW = datetime(2026, 11, 28, 17, 40, tzinfo=UTC)


def render(renderable: RenderableType, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def lines_matching(text: str, *words: str) -> bool:
    """Some line holds all ``words``, in order, separated by anything."""
    return any(_in_order(line, words) for line in text.splitlines())


def _in_order(line: str, words: tuple[str, ...]) -> bool:
    position = 0
    for word in words:
        position = line.find(word, position)
        if position < 0:
            return False
        position += len(word)
    return True


def test_the_stats_report_shows_every_block_of_the_response() -> None:
    text = render(stats_report(STATS_REPORT))
    assert text.startswith("Retry report - all jobs (generated 2026-11-28 17:40:00Z)")
    assert "12 jobs: 1 pending, 0 running, 7 completed, 3 failed, 1 cancelled" in text
    for words in (
        ("Total retries", "9"),
        ("Retry success rate", "66.7%"),
        ("Average retries per retried job", "1.8"),
        ("Success on the first retry", "50.0%"),
        ("Success on the second retry", "33.3%"),
        ("Success on the third retry", "n/a"),
        ("timeout", "4"),
        ("rate_limited", "3"),
        ("a.example", "5", "3"),
        ("network_connectivity", "6", "50.0%"),
        ("1", "4", "2", "50.0%"),
        ("1. [high] Consider increasing default timeout values (configuration)",),
        ("evidence: timeoutFailures 4, failures 6, share 66.7%",),
    ):
        assert lines_matching(text, *words), words


def test_the_stats_report_of_an_empty_database() -> None:
    empty = {
        "scope": {"domain": "b.example", "since": "2026-11-01T00:00:00.000Z", "job_type": None},
        "jobs": {"total": 0, "byStatus": {}},
        "retryMetrics": {
            "totalRetries": 0,
            "retrySuccessRate": None,
            "avgRetriesPerJob": None,
            "retrysByErrorType": {},
            "retryEffectiveness": {},
        },
        "failureAnalysis": {
            "mostRetriedDomains": [],
            "commonFailurePatterns": [],
            "retryEffectiveness": [],
            "recommendations": [],
        },
    }
    text = render(stats_report(empty))
    assert text.startswith("Retry report - domain b.example, since 2026-11-01T00:00:00.000Z")
    assert lines_matching(text, "Retry success rate", "n/a")
    assert lines_matching(text, "Average retries per retried job", "n/a")
    assert text.count("no data yet") == 3
    assert "none: nothing stands out" in text


def test_a_report_from_a_partial_answer_skips_what_is_missing() -> None:
    assert "Retry metrics" not in render(stats_report({"jobs": {"total": 1, "byStatus": {}}}))


@pytest.mark.parametrize(
    ("rate", "shown"), [(0.6667, "66.7%"), (1, "100.0%"), (0.0, "0.0%"), (None, "n/a")]
)
def test_percent(rate: Any, shown: str) -> None:
    assert percent(rate) == shown


def test_since_takes_a_duration_or_passes_a_time_through() -> None:
    assert since_timestamp("24h", NOW) == "2026-11-27T17:40:00.000Z"
    assert since_timestamp("7d", NOW) == "2026-11-21T17:40:00.000Z"
    assert since_timestamp("90m", NOW) == "2026-11-28T16:10:00.000Z"
    assert since_timestamp("2026-11-01", NOW) == "2026-11-01"
    assert since_timestamp(None, NOW) is None


def test_server_details_become_lines() -> None:
    assert detail_lines({"currentRetries": 3, "lastError": "Request timeout"}) == [
        "currentRetries: 3",
        "lastError: Request timeout",
    ]
    assert detail_lines([{"field": "body.priority", "message": "too big"}]) == [
        "body.priority: too big"
    ]
    assert detail_lines("Unable to update job status in database") == [
        "Unable to update job status in database"
    ]
    assert detail_lines(None) == []


PAGES = [
    {**dict.fromkeys(PAGE_FIELDS), "url": "https://a.example/", "status": 200, "text": "a\nb"},
    {**dict.fromkeys(PAGE_FIELDS), "url": "https://a.example/x", "status": 404, "error": "gone"},
]


def test_exports() -> None:
    jsonl, array, table = io.StringIO(), io.StringIO(), io.StringIO()
    assert write_jsonl(iter(PAGES), jsonl) == 2
    assert [json.loads(line) for line in jsonl.getvalue().splitlines()] == PAGES
    assert write_json(iter(PAGES), array) == 2
    assert json.loads(array.getvalue()) == PAGES
    assert write_csv(iter(PAGES), table) == 2
    rows = list(csv.DictReader(io.StringIO(table.getvalue())))
    assert [row["url"] for row in rows] == ["https://a.example/", "https://a.example/x"]
    assert (rows[0]["text"], rows[0]["error"], rows[1]["error"]) == ("a\nb", "", "gone")


def test_exports_of_no_pages() -> None:
    array, table = io.StringIO(), io.StringIO()
    assert write_json(iter([]), array) == 0
    assert json.loads(array.getvalue()) == []
    assert write_csv(iter([]), table) == 0
    assert table.getvalue().strip() == ",".join(PAGE_FIELDS)


JOB: dict[str, Any] = {
    "id": "9f0c0000-0000-4000-8000-000000000000",
    "domain": "example.com",
    "status": "pending",
    "retry_count": 1,
    "max_retries": 3,
    "pages_crawled": 0,
    "config": {"maxPages": 50},
    "metadata": {"lastError": "Request timeout", "errorType": "timeout"},
    "error_message": None,
    "scheduled_at": "2026-11-28T17:40:30.000Z",
}


def test_the_progress_view_shows_attempt_next_retry_and_last_error() -> None:
    text = render(progress_view(JOB, NOW))
    assert lines_matching(text, "Status", "pending")
    assert lines_matching(text, "Pages crawled", "0 (of at most 50)")
    assert lines_matching(text, "Attempt", "retry 1, retries 1/3")  # as the seed counts
    assert lines_matching(text, "Next retry", "2026-11-28 17:40:30Z (in 30 s)")
    assert lines_matching(text, "Last error", "Request timeout")
    running = {**JOB, "status": "running", "pages_crawled": 12}
    assert next_retry(running, NOW) is None
    assert lines_matching(render(progress_view(running, NOW)), "Pages crawled", "12")


def test_the_summary_of_a_failed_job_says_what_to_do() -> None:
    failed = {
        **JOB,
        "status": "failed",
        "retry_count": 0,
        "error_message": "HTTP 404 from https://example.com/",
        "metadata": {
            "errorType": "not_found",
            "failurePattern": "content_missing",
            "httpStatus": 404,
            "noRetryReason": "not_found errors are not retried automatically",
        },
    }
    assert render(summary(failed)).splitlines() == [
        f"Job {JOB['id']} failed",
        "  error: HTTP 404 from https://example.com/",
        "  errorType not_found, failurePattern content_missing, httpStatus 404",
        "  retries 0/3",
        "  not retried automatically: not_found errors are not retried automatically",
        f"  retry it with: scrapejobs retry {JOB['id']}",
    ]
    done = {**JOB, "status": "completed", "pages_crawled": 1, "retry_count": 0}
    assert render(summary(done)).strip() == (
        f"Job {JOB['id']} completed: 1 page crawled, retries 0/3"
    )
    note = "stopped at the deadline (maxDuration 1000 ms): 3 queued URLs not fetched"
    stopped = {**done, "attempts": [{"attempt": 1, "outcome": "completed", "note": note}]}
    assert render(summary(stopped)).splitlines()[1:] == [f"  note: {note}"]


def test_a_configuration_failure_gets_no_retry_hint() -> None:
    """A refused address fails the same way on every retry: the message says how to
    allow it, and the summary does not suggest retrying."""
    message = (
        "blocked address 127.0.0.1 (loopback); to crawl private, loopback and link-local "
        "addresses, start the server or worker with --allow-private-networks "
        "(or SCRAPEJOBS_ALLOW_PRIVATE_NETWORKS=1) for http://127.0.0.1:8765/"
    )
    failed = {
        **JOB,
        "status": "failed",
        "error_message": message,
        "metadata": {
            "errorType": "invalid_url",
            "failurePattern": "configuration",
            "noRetryReason": "invalid_url errors are not retried automatically",
        },
    }
    lines = render(summary(failed)).splitlines()
    assert lines[-1] == "  a retry fails the same way until the configuration changes"
    assert not any("scrapejobs retry" in line for line in lines)


def test_small_formats() -> None:
    assert moment("2024-01-01T10:00:00.000Z") == "2024-01-01 10:00:00Z"
    assert moment(None) == "-"
    assert took("2024-01-01T10:00:00.000Z", "2024-01-01T10:00:01.500Z") == "1.5 s"
    assert took("2024-01-01T10:00:00.000Z", None) == "-"
    assert jobs_footer(JobList([JOB], total=3, limit=1, offset=1)) == (
        "Jobs 2-2 of 3, newest first. Next page: --offset 2"
    )
    assert jobs_footer(JobList([], total=0, limit=50, offset=0)) == "No jobs match."


@pytest.mark.parametrize("width", [80, 100, 160])
def test_the_jobs_table_never_breaks_a_domain(width: int) -> None:
    domain = "http://shop.example-retailer.com:8443"
    job = {**JOB, "domain": domain, "status": "failed", "error_message": "HTTP 503 " * 8}
    text = render(jobs_table([job], width=width), width=width)
    assert any(domain in line for line in text.splitlines()), text
    assert JOB["id"] in text
    assert max(len(line) for line in text.splitlines()) <= width
