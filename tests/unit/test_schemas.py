"""Request validation: defaults, strictness, ranges, unknown fields, safe metadata."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import DEFAULT_USER_AGENT, SYSTEM_METADATA_KEYS, JobType
from scrapejobs.schemas import BulkRetryRequest, ClaimRequest, JobCreate, JobUpdate
from scrapejobs.transitions import JobEdit


def create(**fields: Any) -> JobCreate:
    return JobCreate.model_validate({"domain": "example.com", **fields})


def rejects(model: type[BaseModel], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


# --- JobCreate: defaults -----------------------------------------------------------


def test_job_create_defaults() -> None:
    job = create()
    assert job.domain == "example.com"
    assert job.job_type is JobType.DOMAIN_SCRAPE
    assert job.priority == 5
    assert job.max_retries == 3
    assert job.metadata == {}


def test_full_config_fills_every_default() -> None:
    assert create().full_config() == {
        "depth": 3,
        "maxPages": 100,
        "timeout": 30000,
        "respectRobots": True,
        "userAgent": DEFAULT_USER_AGENT,
        "delay": 0,
        "maxConcurrentRequests": 8,
        "respectRetryAfter": True,
        "autoRetry": True,
    }


def test_full_config_keeps_what_the_request_set() -> None:
    config = {"depth": 0, "timeout": 5000, "respectRobots": False, "startUrl": "https://x.com/a"}
    full = create(config=config).full_config()
    assert full["depth"] == 0
    assert full["timeout"] == 5000
    assert full["respectRobots"] is False
    assert full["startUrl"] == "https://x.com/a"
    assert full["maxPages"] == 100


@pytest.mark.parametrize(
    ("key", "default"),
    [("depth", 3), ("maxPages", 100), ("timeout", 30000), ("respectRobots", True)],
)
def test_null_config_field_on_create_is_refused_or_defaulted(key: str, default: Any) -> None:
    # A created job shows what it runs with: null must not leave a key out.
    try:
        job = create(config={key: None})
    except ValidationError:
        return
    assert job.full_config()[key] == default


def test_domain_is_normalised() -> None:
    assert create(domain="HTTPS://Example.COM/").domain == "https://example.com"


@pytest.mark.parametrize("job_type", ["domain_scrape", "page_scrape", "sitemap_scrape"])
def test_job_types(job_type: str) -> None:
    assert create(job_type=job_type).job_type == job_type


# --- JobCreate: strictness and ranges ----------------------------------------------

NOT_INTS = ["5", True, 5.5, None, [5], {"v": 5}]


@pytest.mark.parametrize("value", NOT_INTS)
@pytest.mark.parametrize("field", ["priority", "max_retries"])
def test_top_level_ints_are_strict(field: str, value: Any) -> None:
    rejects(JobCreate, {"domain": "example.com", field: value})


@pytest.mark.parametrize("value", ["5", True, 5.5, [5]])
@pytest.mark.parametrize(
    "field", ["depth", "maxPages", "timeout", "delay", "maxConcurrentRequests"]
)
def test_config_ints_are_strict(field: str, value: Any) -> None:
    rejects(JobCreate, {"domain": "example.com", "config": {field: value}})


def test_an_integral_float_is_the_integer() -> None:
    """JSON has one number type, and JSON Schema's integer takes 5.0: so does the API."""
    job = JobCreate.model_validate({"domain": "a.com", "priority": 5.0, "config": {"depth": 2.0}})
    assert (job.priority, job.config.depth) == (5, 2)
    assert type(job.priority) is int and type(job.config.depth) is int


def test_the_optional_crawl_limits_are_kept_only_when_given() -> None:
    assert "maxDuration" not in create().full_config()
    config = {"maxDuration": 60_000, "dropQueryParameters": ["utm_*", "sid", "a.b[]"]}
    assert create(config=config).full_config() | config == create(config=config).full_config()
    assert create(config={"dropQueryParameters": []}).full_config()["dropQueryParameters"] == []


@pytest.mark.parametrize(
    "value", [["a b"], [""], ["*utm"], ["x" * 101], ["ok"] * 101, "utm_*", [1], ["a=b"]]
)
def test_bad_dropped_parameters_are_refused(value: Any) -> None:
    rejects(JobCreate, {"domain": "example.com", "config": {"dropQueryParameters": value}})


@pytest.mark.parametrize("value", ["true", 1, 0, "yes"])
@pytest.mark.parametrize("field", ["respectRobots", "respectRetryAfter", "autoRetry"])
def test_config_bools_are_strict(field: str, value: Any) -> None:
    rejects(JobCreate, {"domain": "example.com", "config": {field: value}})


@pytest.mark.parametrize(
    ("field", "lowest", "highest"),
    [("priority", 1, 10), ("max_retries", 0, 10)],
)
def test_top_level_ranges(field: str, lowest: int, highest: int) -> None:
    assert getattr(create(**{field: lowest}), field) == lowest
    assert getattr(create(**{field: highest}), field) == highest
    rejects(JobCreate, {"domain": "example.com", field: lowest - 1})
    rejects(JobCreate, {"domain": "example.com", field: highest + 1})


@pytest.mark.parametrize(
    ("field", "lowest", "highest"),
    [
        ("depth", 0, 20),
        ("maxPages", 1, 100_000),
        ("timeout", 100, 120_000),
        ("maxConcurrentRequests", 1, 64),
        ("maxDuration", 1000, 7 * 86_400_000),
        ("maxPageBytes", 1024, 64 * 2**20),
    ],
)
def test_config_ranges(field: str, lowest: int, highest: int) -> None:
    assert create(config={field: lowest}).full_config()[field] == lowest
    assert create(config={field: highest}).full_config()[field] == highest
    rejects(JobCreate, {"domain": "example.com", "config": {field: lowest - 1}})
    rejects(JobCreate, {"domain": "example.com", "config": {field: highest + 1}})


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"domain": ""},
        {"domain": "ftp://x.com"},
        {"domain": "example.com/path"},
        {"domain": 5},
        {"domain": "example.com", "job_type": "full_scrape"},
        {"domain": "example.com", "config": None},
        {"domain": "example.com", "config": []},
        {"domain": "example.com", "metadata": []},
        {"domain": "example.com", "metadata": "x"},
        {"domain": "example.com", "config": {"startUrl": "ftp://example.com/"}},
        {"domain": "example.com", "config": {"startUrl": "/relative"}},
        {"domain": "example.com", "config": {"startUrl": "https://exa mple.com/"}},
        {"domain": "example.com", "config": {"userAgent": ""}},
        {"domain": "example.com", "config": {"userAgent": "bot\x00"}},
    ],
)
def test_job_create_rejects_bad_values(data: dict[str, Any]) -> None:
    rejects(JobCreate, data)


@pytest.mark.parametrize(
    "data",
    [
        {"domain": "example.com", "status": "pending"},
        {"domain": "example.com", "retry_count": 0},
        {"domain": "example.com", "id": "123"},
        {"domain": "example.com", "Priority": 5},
        {"domain": "example.com", "config": {"dept": 3}},
        {"domain": "example.com", "config": {"max_pages": 10}},
        {"domain": "example.com", "config": {"proxy": "http://p"}},
    ],
)
def test_unknown_fields_are_refused(data: dict[str, Any]) -> None:
    rejects(JobCreate, data)


# --- metadata safety ---------------------------------------------------------------


def nested(levels: int) -> dict[str, Any]:
    """``levels`` dicts inside each other, the innermost holding a scalar."""
    value: Any = 1
    for _ in range(levels):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    "metadata",
    [
        {"note": "bad\x00byte"},
        {"bad\x00key": 1},
        {"note": "\ud800"},
        {"\udfff": 1},
        {"list": ["ok", "\x00"]},
        {"deep": {"note": "\ud800"}},
        {"n": math.nan},
        {"n": math.inf},
        {"n": -math.inf},
        {"list": [1.0, math.nan]},
        {"n": 2**64},
        {"n": -(2**64)},
        {"n": 10**30},
        nested(18),
        {"list": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]},
        {"blob": "x" * (64 * 1024 + 1)},
        {f"k{i}": "x" * 1000 for i in range(70)},
    ],
)
def test_unsafe_metadata_is_refused(metadata: dict[str, Any]) -> None:
    rejects(JobCreate, {"domain": "example.com", "metadata": metadata})
    rejects(JobUpdate, {"metadata": metadata})


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"source": "api", "tags": ["a", "b"], "n": 1.5, "ok": True, "none": None},
        {"unicode": "bücher ✓ 日本"},
        {"n": 2**63 - 1},
        {"n": -(2**63 - 1)},
        nested(16),
        {"blob": "x" * 60_000},
    ],
)
def test_safe_metadata_is_kept(metadata: dict[str, Any]) -> None:
    assert create(metadata=metadata).metadata == metadata
    assert JobUpdate.model_validate({"metadata": metadata}).metadata == metadata


@pytest.mark.parametrize("key", SYSTEM_METADATA_KEYS)
@pytest.mark.parametrize("model", [JobCreate, JobUpdate])
def test_the_system_keys_are_refused_by_name(key: str, model: type[BaseModel]) -> None:
    with pytest.raises(ValidationError) as refused:
        model.model_validate({"domain": "example.com", "metadata": {key: "x", "ok": 1}})
    [error] = [e for e in refused.value.errors() if e["loc"] == ("metadata",)]
    assert error["msg"].startswith(f"Value error, {key} is written by scrapejobs itself")


def test_every_refused_system_key_is_named() -> None:
    with pytest.raises(ValidationError, match="failurePattern, errorType are written"):
        create(metadata={"failurePattern": "x", "errorType": "y"})


# --- JobUpdate ---------------------------------------------------------------------

REPORT_FIELDS = {
    "error_message": "Request timeout",
    "errorType": "timeout",
    "httpStatus": 503,
    "retryAfter": 30.0,
    "workerId": "w1",
}


@pytest.mark.parametrize(("field", "value"), REPORT_FIELDS.items())
@pytest.mark.parametrize("status", [None, "pending", "running", "cancelled"])
def test_report_fields_need_a_report_status(field: str, value: Any, status: str | None) -> None:
    data: dict[str, Any] = {field: value}
    if status is not None:
        data["status"] = status
    rejects(JobUpdate, data)


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_report_fields_with_a_report_status(status: str) -> None:
    update = JobUpdate.model_validate({"status": status, **REPORT_FIELDS})
    assert update.error_message == "Request timeout"
    assert update.errorType == "timeout"
    assert update.httpStatus == 503
    assert update.retryAfter == 30.0
    assert update.workerId == "w1"
    assert update.failure() == Failure(ErrorType.TIMEOUT, "Request timeout", 503, 30.0)
    assert update.edit() == JobEdit()


def test_a_report_is_classified_from_the_best_evidence() -> None:
    def failure(**fields: Any) -> Failure:
        return JobUpdate.model_validate({"status": "failed", **fields}).failure()

    assert failure() == Failure(ErrorType.UNKNOWN, "Job failed")
    assert failure(error_message="connect ECONNREFUSED").error_type is ErrorType.CONNECTION_REFUSED
    assert failure(error_message="x", httpStatus=429).error_type is ErrorType.RATE_LIMITED
    assert failure(httpStatus=429, errorType="timeout").error_type is ErrorType.TIMEOUT


def test_an_edit_carries_the_changed_fields_only() -> None:
    update = JobUpdate.model_validate(
        {"priority": 9, "config": {"depth": 1, "startUrl": None}, "metadata": {"a": 1}}
    )
    assert update.edit() == JobEdit(
        priority=9, config={"depth": 1, "startUrl": None}, metadata={"a": 1}
    )


def test_retry_after_may_be_whole_seconds() -> None:
    assert JobUpdate.model_validate({"status": "failed", "retryAfter": 30}).retryAfter == 30


@pytest.mark.parametrize(
    "data",
    [
        {"status": "failed", "errorType": "exploded"},
        {"status": "failed", "httpStatus": 99},
        {"status": "failed", "httpStatus": 600},
        {"status": "failed", "httpStatus": "503"},
        {"status": "failed", "retryAfter": -1.0},
        {"status": "failed", "retryAfter": math.inf},
        {"status": "failed", "retryAfter": math.nan},
        {"status": "failed", "retryAfter": "30"},
        {"status": "failed", "workerId": ""},
        {"status": "failed", "workerId": "w" * 201},
        {"status": "failed", "error_message": "x" * 10_001},
        {"status": "failed", "error_message": "a\x00b"},
        {"status": "failed", "error_message": "\ud800"},
        {"status": "exploded"},
        {"status": "Cancelled"},
        {"priority": 0},
        {"priority": 11},
        {"priority": "5"},
        {"max_retries": 11},
        {"max_retries": True},
        {"config": {"depth": 21}},
        {"config": {"nope": 1}},
        {"domain": "example.com"},
        {"retry_count": 0},
    ],
)
def test_job_update_rejects(data: dict[str, Any]) -> None:
    rejects(JobUpdate, data)


def test_empty_update_is_refused() -> None:
    rejects(JobUpdate, {})


@pytest.mark.parametrize(
    "data",
    [
        {"priority": 10},
        {"max_retries": 0},
        {"config": {"timeout": 60000}},
        {"metadata": {"owner": "me"}},
        {"status": "cancelled"},
        {"status": "failed"},
    ],
)
def test_job_update_accepts(data: dict[str, Any]) -> None:
    update = JobUpdate.model_validate(data)
    assert update.model_dump(exclude_unset=True, mode="json") == data


# --- BulkRetryRequest --------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"domain": "example.com"},
        {"failurePattern": "network_connectivity"},
        {"errorContains": "timeout"},
        {"ids": ["123e4567-e89b-12d3-a456-426614174000"]},
        {"domain": "example.com", "failurePattern": "rate_limiting", "limit": 10},
    ],
)
def test_bulk_retry_accepts_a_filter(data: dict[str, Any]) -> None:
    assert BulkRetryRequest.model_validate(data).limit == data.get("limit", 100)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({}, id="empty"),
        pytest.param({"limit": 10}, id="limit-only"),
        pytest.param({"delaySeconds": 5.0}, id="delay-only"),
        # A null filter filters nothing: it must not open the door to retrying everything.
        pytest.param({"domain": None}, id="null-domain"),
        pytest.param({"failurePattern": None, "errorContains": None}, id="null-filters"),
    ],
)
def test_bulk_retry_needs_a_filter(data: dict[str, Any]) -> None:
    rejects(BulkRetryRequest, data)


@pytest.mark.parametrize(
    "data",
    [
        {"domain": "example.com", "limit": 0},
        {"domain": "example.com", "limit": 1001},
        {"domain": "example.com", "limit": "10"},
        {"failurePattern": "exploding"},
        {"errorContains": ""},
        {"domain": "ftp://example.com"},
        {"ids": "123"},
        {"ids": [1]},
        {"domain": "example.com", "delaySeconds": -1.0},
        {"domain": "example.com", "status": "failed"},
    ],
)
def test_bulk_retry_rejects_bad_values(data: dict[str, Any]) -> None:
    rejects(BulkRetryRequest, data)


def test_bulk_retry_normalises_the_domain() -> None:
    assert BulkRetryRequest.model_validate({"domain": "Example.COM"}).domain == "example.com"


# --- ClaimRequest ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [{}, {"workerId": "w1"}, {"leaseSeconds": 1}, {"workerId": "w1", "leaseSeconds": 3600}],
)
def test_claim_request_accepts(data: dict[str, Any]) -> None:
    assert ClaimRequest.model_validate(data).model_dump(exclude_unset=True) == data


@pytest.mark.parametrize(
    "data",
    [
        {"workerId": ""},
        {"workerId": "w" * 201},
        {"workerId": 1},
        {"workerId": "w\x00"},
        {"leaseSeconds": 0},
        {"leaseSeconds": 3601},
        {"leaseSeconds": "60"},
        {"leaseSeconds": 60.5},
        {"leaseSeconds": True},
        {"worker": "w1"},
    ],
)
def test_claim_request_rejects(data: dict[str, Any]) -> None:
    rejects(ClaimRequest, data)


# --- fingerprint -------------------------------------------------------------------

BASE_REQUEST: dict[str, Any] = {
    "domain": "example.com",
    "priority": 7,
    "config": {"depth": 2},
    "metadata": {"a": 1, "b": [1, 2]},
}


def test_fingerprint_is_equal_for_equal_requests() -> None:
    first = JobCreate.model_validate(BASE_REQUEST)
    second = JobCreate.model_validate(dict(BASE_REQUEST))
    assert first.fingerprint() == second.fingerprint()


def test_fingerprint_ignores_spelling_that_validation_normalises() -> None:
    first = JobCreate.model_validate(BASE_REQUEST)
    second = JobCreate.model_validate(
        {**BASE_REQUEST, "domain": "Example.COM", "metadata": {"b": [1, 2], "a": 1}}
    )
    assert first.fingerprint() == second.fingerprint()


@pytest.mark.parametrize(
    "change",
    [
        {"domain": "example.org"},
        {"job_type": "page_scrape"},
        {"priority": 8},
        {"max_retries": 2},
        {"config": {"depth": 3}},
        {"config": {"depth": 2, "timeout": 5000}},
        {"metadata": {"a": 2, "b": [1, 2]}},
        {"metadata": {"a": 1, "b": [2, 1]}},
    ],
)
def test_fingerprint_differs_when_a_field_differs(change: dict[str, Any]) -> None:
    first = JobCreate.model_validate(BASE_REQUEST)
    second = JobCreate.model_validate({**BASE_REQUEST, **change})
    assert first.fingerprint() != second.fingerprint()
