"""The job: allowed transitions (CONTRACT section 4), domains, timestamps, attempt history."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from scrapejobs.events import Attempt, EventKind, JobEvent, attempts_from_events, retry_label
from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import (
    SYSTEM_METADATA_KEYS,
    InvalidDomain,
    Job,
    JobStatus,
    LastRetry,
    can_transition,
    normalize_domain,
    system_facts,
    timestamp,
)
from tests.factories import build_job

# --- transitions -------------------------------------------------------------------

S = JobStatus
# CONTRACT section 4: "pending -> running -> completed | failed; pending | running ->
# cancelled; failed -> pending only through a retry. Nothing else." Plus the crawler
# issue's release: "On SIGTERM a worker ... releases its jobs (a released job goes back
# to pending without spending a retry)".
CONTRACT_TRANSITIONS = {
    (S.RUNNING, S.PENDING, "release"),
    (S.PENDING, S.RUNNING, "claim"),
    (S.RUNNING, S.COMPLETED, "report"),
    (S.RUNNING, S.FAILED, "report"),
    (S.PENDING, S.CANCELLED, "cancel"),
    (S.RUNNING, S.CANCELLED, "cancel"),
    (S.FAILED, S.PENDING, "retry"),
}
STEPS = ["claim", "report", "retry", "cancel", "release", "update", ""]


@pytest.mark.parametrize(
    ("current", "target", "step"), list(itertools.product(JobStatus, JobStatus, STEPS))
)
def test_can_transition_matches_the_contract(
    current: JobStatus, target: JobStatus, step: str
) -> None:
    expected = (current, target, step) in CONTRACT_TRANSITIONS
    assert can_transition(current, target, step) is expected


@pytest.mark.parametrize("final", [JobStatus.COMPLETED, JobStatus.CANCELLED])
def test_final_states_have_no_way_out(final: JobStatus) -> None:
    assert not any(can_transition(final, target, step) for target in JobStatus for step in STEPS)


# --- normalize_domain --------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("  example.com  ", "example.com"),
        ("example.com.", "example.com"),
        ("sub.example.co.uk", "sub.example.co.uk"),
        ("example.com:8080", "example.com:8080"),
        ("example.com:1", "example.com:1"),
        ("example.com:65535", "example.com:65535"),
        ("127.0.0.1", "127.0.0.1"),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081"),
        ("http://127.0.0.1:8081/", "http://127.0.0.1:8081"),
        ("HTTPS://Example.com", "https://example.com"),
        ("https://example.com/", "https://example.com"),
        ("[::1]:8080", "[::1]:8080"),
        ("[::1]", "[::1]"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
        ("[0:0:0:0:0:0:0:1]", "[::1]"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ],
)
def test_normalize_domain_accepts(given: str, expected: str) -> None:
    assert normalize_domain(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "",
        "   ",
        "ftp://x.com",
        "javascript://x.com",
        "example.com/path",
        "https://example.com/path",
        "a b.com",
        "example.com:0",
        "example.com:70000",
        "example.com:65536",
        "example.com:abc",
        "example.com:",
        "example.com:-1",
        "example.com:\u00b2",  # a Unicode digit that int() refuses
        ":8080",
        "user@example.com",
        "http://user:pass@example.com",
        "-bad-.com",
        "bad-.com",
        "exa_mple.com",
        "example..com",
        "a" * 300 + ".com",
        ("a" * 60 + ".") * 5 + "com",  # labels fine, name over 253 characters
        "http://",
        "https:///",
        "example.com?q=1",
        "example.com#top",
        "example.com\\x",
        "[::1",
        "[zz::1]",
        "[::1]x",
        "\x00",
        "exa\x00mple.com",
    ],
)
def test_normalize_domain_rejects(given: str) -> None:
    with pytest.raises(InvalidDomain):
        normalize_domain(given)


def test_invalid_domain_is_a_value_error() -> None:
    assert issubclass(InvalidDomain, ValueError)


# --- timestamp ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 1, 1, 12, tzinfo=UTC), "2024-01-01T12:00:00.000Z"),
        (datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC), "2024-01-01T12:00:00.123Z"),
        # Milliseconds are truncated, never rounded up into the next second.
        (datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "2024-12-31T23:59:59.999Z"),
        (datetime(2024, 3, 5, 7, 8, 9, 1000, tzinfo=UTC), "2024-03-05T07:08:09.001Z"),
        (datetime(2024, 3, 5, 7, 8, 9, 999, tzinfo=UTC), "2024-03-05T07:08:09.000Z"),
        # Other offsets are converted to UTC.
        (
            datetime(2024, 1, 1, 14, 30, 0, 500000, tzinfo=timezone(timedelta(hours=2))),
            "2024-01-01T12:30:00.500Z",
        ),
        (
            datetime(2023, 12, 31, 19, 0, tzinfo=timezone(timedelta(hours=-5))),
            "2024-01-01T00:00:00.000Z",
        ),
    ],
)
def test_timestamp(moment: datetime, expected: str) -> None:
    assert timestamp(moment) == expected


# --- attempts_from_events ----------------------------------------------------------

T0 = datetime(2024, 1, 1, 12, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(kind: EventKind, minutes: int, **fields: Any) -> JobEvent:
    fields = {"actor": "api", "retry_count": 0, **fields}
    return JobEvent(job_id="job-1", at=at(minutes), event=kind, **fields)


def test_attempts_from_no_events() -> None:
    assert attempts_from_events([]) == []


def test_attempts_ignore_events_without_an_attempt() -> None:
    events = [event(EventKind.CREATED, 0), event(EventKind.UPDATED, 1)]
    assert attempts_from_events(events) == []


def test_attempts_failed_then_retried_then_completed() -> None:
    events = [
        event(EventKind.CREATED, 0),
        event(EventKind.STARTED, 1, actor="w1", attempt=1),
        event(
            EventKind.FAILED,
            2,
            actor="w1",
            attempt=1,
            error_message="503 Service Unavailable",
            error_type="service_unavailable",
            failure_pattern="server_error",
            http_status=503,
        ),
        event(EventKind.RETRIED, 2, actor="system", retry_count=1),
        event(EventKind.STARTED, 5, actor="w2", attempt=2, retry_count=1),
        event(EventKind.COMPLETED, 7, actor="w2", attempt=2, retry_count=1),
    ]
    assert attempts_from_events(events) == [
        Attempt(
            attempt=1,
            started_at=at(1),
            workerId="w1",
            finished_at=at(2),
            outcome="failed",
            errorType="service_unavailable",
            failurePattern="server_error",
            httpStatus=503,
            error_message="503 Service Unavailable",
        ),
        Attempt(
            attempt=2,
            started_at=at(5),
            workerId="w2",
            finished_at=at(7),
            outcome="completed",
            retry_count=1,
        ),
    ]
    assert [retry_label(run.retry_count) for run in attempts_from_events(events)] == [
        "original",
        "retry 1",
    ]


@pytest.mark.parametrize(
    ("ending", "outcome"),
    [
        (EventKind.COMPLETED, "completed"),
        (EventKind.FAILED, "failed"),
        (EventKind.RELEASED, "released"),
        (EventKind.CANCELLED, "cancelled"),
    ],
)
def test_attempt_outcome_comes_from_the_ending_event(ending: EventKind, outcome: str) -> None:
    events = [
        event(EventKind.STARTED, 1, actor="w1", attempt=1),
        event(ending, 3, actor="w1", attempt=1),
    ]
    [run] = attempts_from_events(events)
    assert run.outcome == outcome
    assert run.started_at == at(1)
    assert run.finished_at == at(3)


def test_unfinished_attempt_is_running() -> None:
    events = [
        event(EventKind.STARTED, 1, actor="w1", attempt=1),
        event(EventKind.FAILED, 2, actor="w1", attempt=1, error_message="Request timeout"),
        event(EventKind.RETRIED, 2, actor="system", retry_count=1),
        event(EventKind.STARTED, 3, actor="w2", attempt=2, retry_count=1),
    ]
    first, second = attempts_from_events(events)
    assert first.outcome == "failed"
    assert second == Attempt(attempt=2, started_at=at(3), workerId="w2", retry_count=1)
    assert second.outcome == "running"
    assert second.finished_at is None


def test_attempt_keeps_the_worker_that_started_it() -> None:
    # A lease expiry is written by someone else; the attempt still belongs to w1.
    events = [
        event(EventKind.STARTED, 1, actor="w1", attempt=1),
        event(EventKind.FAILED, 9, actor="system", attempt=1, error_type="worker_lost"),
    ]
    [run] = attempts_from_events(events)
    assert run.workerId == "w1"
    assert run.errorType == "worker_lost"


def test_ending_without_a_start_is_ignored() -> None:
    events = [event(EventKind.FAILED, 1, actor="w1", attempt=1, error_message="x")]
    assert attempts_from_events(events) == []


def test_attempts_are_ordered_oldest_first() -> None:
    events = [
        event(EventKind.STARTED, 5, actor="w2", attempt=2),
        event(EventKind.STARTED, 1, actor="w1", attempt=1),
        event(EventKind.COMPLETED, 6, actor="w2", attempt=2),
    ]
    assert [run.attempt for run in attempts_from_events(events)] == [1, 2]


# --- the system's facts ----------------------------------------------------------------

AT = datetime(2024, 1, 1, 12, tzinfo=UTC)


def job_with(status: JobStatus, **state: Any) -> Job:
    return build_job(status=status, retry_count=1, **state)


def test_system_facts_render_under_the_seeds_names_in_order() -> None:
    job = job_with(
        JobStatus.FAILED,
        failure=Failure(ErrorType.RATE_LIMITED, "HTTP 429", 429, 30.0),
        no_retry_reason="Automatic retry is off for this job",
        user_agent_rotations=1,
        last_retry=LastRetry("Manual retry", "HTTP 503", AT, "api"),
    )
    facts = system_facts(job)
    assert list(facts) == list(SYSTEM_METADATA_KEYS)
    assert facts == {
        "retryReason": "Manual retry",
        "lastError": "HTTP 503",
        "retriedAt": "2024-01-01T12:00:00.000Z",
        "retriedBy": "api",
        "failurePattern": "rate_limiting",
        "errorType": "rate_limited",
        "httpStatus": 429,
        "retryAfter": 30.0,
        "noRetryReason": "Automatic retry is off for this job",
        "userAgentRotations": 1,
    }
    assert job.error_message == "HTTP 429"
    assert system_facts(replace(job, last_retry=None))["failurePattern"] == "rate_limiting"


def test_a_job_without_failures_has_no_facts() -> None:
    job = job_with(JobStatus.PENDING)
    assert system_facts(job) == {}
    assert (job.error_message, job.failure_pattern) == (None, None)


def test_the_error_message_shows_only_while_failed() -> None:
    failure = Failure(ErrorType.TIMEOUT, "Request timeout")
    assert job_with(JobStatus.FAILED, failure=failure).error_message == "Request timeout"
    for status in (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.CANCELLED):
        job = job_with(status, failure=failure)
        assert job.error_message is None
        assert system_facts(job)["errorType"] == "timeout"


@pytest.mark.parametrize(
    ("retry_count", "max_retries", "exhausted"), [(0, 0, True), (2, 3, False), (3, 3, True)]
)
def test_retries_exhausted_is_one_rule(retry_count: int, max_retries: int, exhausted: bool) -> None:
    job = replace(job_with(JobStatus.FAILED), retry_count=retry_count, max_retries=max_retries)
    assert job.retries_exhausted is exhausted
    assert job.can_retry is not exhausted
