"""The failure classifier against CONTRACT section 5."""

from __future__ import annotations

import pytest

from scrapejobs.failures import (
    ErrorType,
    Failure,
    FailurePattern,
    classify,
    classify_message,
    classify_status,
)

# CONTRACT section 5, one row per error type: (errorType, failurePattern, automatic retry).
# "forbidden" is retryable once (with another userAgent); retry.py enforces the "once".
CONTRACT_TABLE = [
    ("timeout", "network_connectivity", True),
    ("connection_refused", "network_connectivity", True),
    ("connection_reset", "network_connectivity", True),
    ("dns_resolution", "network_connectivity", True),
    ("rate_limited", "rate_limiting", True),
    ("service_unavailable", "server_error", True),
    ("server_error", "server_error", True),
    ("forbidden", "access_denied", True),
    ("unauthorized", "access_denied", False),
    ("not_found", "content_missing", False),
    ("invalid_url", "configuration", False),
    ("robots_disallowed", "configuration", False),
    ("blocked", "access_denied", False),
    ("worker_lost", "infrastructure", True),
    ("unknown", "unknown", True),
]


def test_contract_table_covers_every_error_type() -> None:
    assert {row[0] for row in CONTRACT_TABLE} == {member.value for member in ErrorType}


def test_contract_table_covers_every_failure_pattern() -> None:
    assert {row[1] for row in CONTRACT_TABLE} == {member.value for member in FailurePattern}


@pytest.mark.parametrize(("error_type", "pattern", "retryable"), CONTRACT_TABLE)
def test_error_type_pattern_and_retryability(
    error_type: str, pattern: str, retryable: bool
) -> None:
    member = ErrorType(error_type)
    assert member.pattern is FailurePattern(pattern)
    assert member.retryable is retryable


@pytest.mark.parametrize(("error_type", "pattern", "retryable"), CONTRACT_TABLE)
def test_failure_pattern_follows_its_error_type(
    error_type: str, pattern: str, retryable: bool
) -> None:
    failure = Failure(ErrorType(error_type), "boom")
    assert failure.pattern == pattern


@pytest.mark.parametrize(
    ("http_status", "expected"),
    [
        (401, ErrorType.UNAUTHORIZED),
        (403, ErrorType.FORBIDDEN),
        (404, ErrorType.NOT_FOUND),
        (410, ErrorType.NOT_FOUND),
        (408, ErrorType.TIMEOUT),
        (429, ErrorType.RATE_LIMITED),
        (503, ErrorType.SERVICE_UNAVAILABLE),
        # "server_error (other 5xx)": every 5xx but 503.
        (500, ErrorType.SERVER_ERROR),
        (501, ErrorType.SERVER_ERROR),
        (502, ErrorType.SERVER_ERROR),
        (504, ErrorType.SERVER_ERROR),
        (599, ErrorType.SERVER_ERROR),
        # Other 4xx: the site answered, nothing says whether a retry helps.
        (400, ErrorType.UNKNOWN),
        (405, ErrorType.UNKNOWN),
        (418, ErrorType.UNKNOWN),
        (451, ErrorType.UNKNOWN),
    ],
)
def test_classify_status(http_status: int, expected: ErrorType) -> None:
    assert classify_status(http_status) is expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Request timeout", ErrorType.TIMEOUT),
        ("ETIMEDOUT", ErrorType.TIMEOUT),
        ("connect ETIMEDOUT 93.184.216.34:443", ErrorType.TIMEOUT),
        ("Read timed out", ErrorType.TIMEOUT),
        ("connect ECONNREFUSED 127.0.0.1:80", ErrorType.CONNECTION_REFUSED),
        ("Connection refused", ErrorType.CONNECTION_REFUSED),
        ("Connection reset by peer", ErrorType.CONNECTION_RESET),
        ("read ECONNRESET", ErrorType.CONNECTION_RESET),
        ("getaddrinfo ENOTFOUND example.com", ErrorType.DNS_RESOLUTION),
        (
            "Cannot connect to host example.com:443 ssl:default [Name or service not known]",
            ErrorType.DNS_RESOLUTION,
        ),
        ("HTTP 429 Too Many Requests", ErrorType.RATE_LIMITED),
        ("Rate limit exceeded", ErrorType.RATE_LIMITED),
        ("503 Service Unavailable", ErrorType.SERVICE_UNAVAILABLE),
        ("500 Internal Server Error", ErrorType.SERVER_ERROR),
        ("HTTP 502 Bad Gateway", ErrorType.SERVER_ERROR),
        ("403 Forbidden", ErrorType.FORBIDDEN),
        ("401 Unauthorized", ErrorType.UNAUTHORIZED),
        ("404 Not Found", ErrorType.NOT_FOUND),
        ("410 Gone", ErrorType.NOT_FOUND),
        ("Invalid URL", ErrorType.INVALID_URL),
        ("Disallowed by robots.txt", ErrorType.ROBOTS_DISALLOWED),
        ("Lease expired", ErrorType.WORKER_LOST),
        ("403: CAPTCHA required", ErrorType.BLOCKED),
        ("blocked by bot protection", ErrorType.BLOCKED),
        ("something odd", ErrorType.UNKNOWN),
        ("", ErrorType.UNKNOWN),
    ],
)
def test_classify_message(message: str, expected: ErrorType) -> None:
    assert classify_message(message) is expected


@pytest.mark.parametrize("message", ["REQUEST TIMEOUT", "request timeout", "Request Timeout"])
def test_classify_message_ignores_case(message: str) -> None:
    assert classify_message(message) is ErrorType.TIMEOUT


def test_classify_prefers_explicit_error_type_over_status_and_message() -> None:
    failure = classify("Request timeout", error_type=ErrorType.FORBIDDEN, http_status=429)
    assert failure.error_type is ErrorType.FORBIDDEN
    assert failure.pattern is FailurePattern.ACCESS_DENIED


def test_classify_prefers_status_over_message() -> None:
    failure = classify("Request timeout", http_status=429)
    assert failure.error_type is ErrorType.RATE_LIMITED
    assert failure.pattern is FailurePattern.RATE_LIMITING


def test_classify_falls_back_to_message() -> None:
    failure = classify("connect ECONNREFUSED 127.0.0.1:80")
    assert failure.error_type is ErrorType.CONNECTION_REFUSED
    assert failure.pattern is FailurePattern.NETWORK_CONNECTIVITY


def test_classify_keeps_message_status_and_retry_after() -> None:
    failure = classify("slow down", http_status=429, retry_after=120.0)
    assert failure == Failure(ErrorType.RATE_LIMITED, "slow down", 429, 120.0)


def test_classify_keeps_status_and_retry_after_with_explicit_type() -> None:
    failure = classify(
        "boom", error_type=ErrorType.SERVICE_UNAVAILABLE, http_status=503, retry_after=30
    )
    assert failure.error_type is ErrorType.SERVICE_UNAVAILABLE
    assert failure.http_status == 503
    assert failure.retry_after == 30
    assert failure.message == "boom"


def test_classify_without_status_or_retry_after_leaves_them_none() -> None:
    failure = classify("something odd")
    assert failure == Failure(ErrorType.UNKNOWN, "something odd", None, None)
