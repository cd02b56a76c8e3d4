"""What a request may say: the validated input of every use case.

Pydantic models, strict (no "5" for 5, no unknown fields), with the ranges
of CONTRACT section 4. The HTTP API validates bodies with them and the
in-process manager takes them, so a job is checked the same way whichever
door it came in by. Anything that fails here is a 400 and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)

from scrapejobs.failures import MAX_RETRY_AFTER, ErrorType, Failure, FailurePattern, classify
from scrapejobs.jobs import (
    DEFAULT_CONFIG,
    DEFAULT_MAX_RETRIES,
    DEFAULT_PRIORITY,
    SYSTEM_METADATA_KEYS,
    JobType,
    check_metadata_size,
    normalize_domain,
)
from scrapejobs.json_schemas import (
    DOMAIN_PATTERN,
    DURATION_PATTERN,
    HEADER_VALUE_PATTERN,
    HTTP_URL_PATTERN,
    JSON_VALUE_REF,
    NO_NUL,
    Documented,
    one_of_given,
    with_status,
)
from scrapejobs.transitions import JobEdit

__all__ = [
    "DOMAIN_DOCUMENTED",
    "BulkRetryRequest",
    "ClaimRequest",
    "HeartbeatRequest",
    "JobConfig",
    "JobCreate",
    "JobUpdate",
    "PruneRequest",
    "RetryRequest",
    "StrictModel",
]

MAX_JSON_DEPTH = 16
MAX_JSON_INT = 2**63 - 1


def _check_text(value: str) -> str:
    """Refuse text the databases cannot store (NUL, lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode") from exc
    return value


def _check_scalar(value: Any) -> None:
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    elif isinstance(value, int) and not -MAX_JSON_INT - 1 <= value <= MAX_JSON_INT:
        raise ValueError("integers must fit in 64 bits")


def _check_json(value: Any, depth: int = 0) -> None:
    """Refuse JSON that a database or a JSON encoder would choke on."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"must not nest deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
    else:
        _check_scalar(value)


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """The user's metadata: storable JSON, at most 64 KiB, none of the system's keys."""
    reserved = [key for key in SYSTEM_METADATA_KEYS if key in value]
    if reserved:
        names = ", ".join(reserved)
        raise ValueError(
            f"{names} {'is' if len(reserved) == 1 else 'are'} written by scrapejobs itself "
            "and cannot be set (the failure and retry facts of CONTRACT section 10)"
        )
    _check_json(value)
    check_metadata_size(value)
    return value


def _check_header_value(value: str) -> str:
    """A user agent is sent as an HTTP header: no control characters (CR/LF injection)."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _check_domain(value: str) -> str:
    return normalize_domain(_check_text(value))


def _check_http_url(value: str) -> str:
    _check_text(value)
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest[0] in "/?#":
        raise ValueError("must be an absolute http(s) URL")
    if any(ch.isspace() for ch in value):
        raise ValueError("must not contain white space")
    try:
        urlsplit(value)  # the job's site is read from it (an unpaired "[" was a 500)
    except ValueError as exc:
        raise ValueError("must be an absolute http(s) URL") from exc
    return value


def _integral(value: Any) -> Any:
    """JSON has one number type: 5.0 is the integer 5 (as JSON Schema's ``integer`` says)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Strict scalars: "5" is not 5, true is not 1, 5.5 is not an integer (5.0 is 5).
INTEGRAL = BeforeValidator(_integral)
"""After a ``Field``'s bounds in an ``Annotated``, so the JSON Schema keeps them."""
Text = Annotated[StrictStr, AfterValidator(_check_text), Documented(pattern=NO_NUL)]
Name = Annotated[Text, StringConstraints(min_length=1, max_length=200)]
# 253: a host name's limit, so that every string the pattern takes is one.
DOMAIN_DOCUMENTED = Documented(pattern=DOMAIN_PATTERN, minLength=1, maxLength=253)
Domain = Annotated[
    StrictStr,
    StringConstraints(max_length=300),
    AfterValidator(_check_domain),
    DOMAIN_DOCUMENTED,
]
Metadata = Annotated[
    dict[str, Any],
    AfterValidator(_check_metadata),
    Documented(
        propertyNames={"pattern": NO_NUL, "not": {"enum": list(SYSTEM_METADATA_KEYS)}},
        additionalProperties=JSON_VALUE_REF,
        description="Free-form JSON, at most 64 KiB and 16 levels deep; no NUL in strings, "
        "integers within 64 bits, none of the system's keys (docs/api.md)",
    ),
]
Priority = Annotated[StrictInt, Field(ge=1, le=10), INTEGRAL]
MaxRetries = Annotated[StrictInt, Field(ge=0, le=10), INTEGRAL]
Delay = Annotated[StrictFloat, Field(ge=0, le=30 * 86_400, allow_inf_nan=False)]
HttpUrl = Annotated[
    StrictStr,
    StringConstraints(max_length=2048),
    AfterValidator(_check_http_url),
    Documented(pattern=HTTP_URL_PATTERN),
]
JobId = Annotated[Text, StringConstraints(max_length=64)]
QueryParameter = Annotated[
    StrictStr, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-\[\]]+\*?$")
]
LeaseSeconds = Annotated[StrictInt, Field(ge=1, le=3600), INTEGRAL]
LeaseToken = Annotated[
    StrictStr, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
]
"""The ``leaseToken`` a claim returned (``scrapejobs.leases``); checked by the domain."""


class StrictModel(BaseModel):
    """Unknown fields are refused, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class JobConfig(StrictModel):
    """A job's crawl settings (CONTRACT section 4). Every field is optional in a request."""

    depth: Annotated[StrictInt, Field(ge=0, le=20), INTEGRAL] | None = None
    maxPages: Annotated[StrictInt, Field(ge=1, le=100_000), INTEGRAL] | None = None
    timeout: (
        Annotated[StrictInt, Field(ge=100, le=120_000, description="ms per request"), INTEGRAL]
        | None
    ) = None
    respectRobots: StrictBool | None = None
    userAgent: (
        Annotated[
            Text,
            StringConstraints(min_length=1, max_length=512),
            AfterValidator(_check_header_value),
            Documented(pattern=HEADER_VALUE_PATTERN),
        ]
        | None
    ) = None
    delay: (
        Annotated[StrictInt, Field(ge=0, le=600_000, description="ms between requests"), INTEGRAL]
        | None
    ) = None
    maxConcurrentRequests: Annotated[StrictInt, Field(ge=1, le=64), INTEGRAL] | None = None
    respectRetryAfter: StrictBool | None = None
    autoRetry: StrictBool | None = None
    startUrl: HttpUrl | None = None
    maxDuration: (
        Annotated[
            StrictInt, Field(ge=1000, le=7 * 86_400_000, description="ms per attempt"), INTEGRAL
        ]
        | None
    ) = None
    maxPageBytes: Annotated[StrictInt, Field(ge=1024, le=64 * 2**20), INTEGRAL] | None = None
    dropQueryParameters: (
        Annotated[list[QueryParameter], Field(max_length=100, description="name or prefix*")] | None
    ) = None

    def values(self) -> dict[str, Any]:
        """Only the fields the request set, with nulls dropped (startUrl: null clears it)."""
        return self.model_dump(exclude_unset=True)


class JobCreate(StrictModel):
    """``POST /api/scrape-jobs``."""

    domain: Domain
    job_type: JobType = JobType.DOMAIN_SCRAPE
    priority: Priority = DEFAULT_PRIORITY
    max_retries: MaxRetries = DEFAULT_MAX_RETRIES
    config: JobConfig = Field(default_factory=JobConfig)
    metadata: Metadata = Field(default_factory=dict)

    def full_config(self) -> dict[str, Any]:
        """Defaults filled in, so a job shows exactly what it runs with."""
        given = {key: value for key, value in self.config.values().items() if value is not None}
        return {**DEFAULT_CONFIG, **given}

    def fingerprint(self) -> str:
        """Identifies the request, to tell a repeat from a reuse of its Idempotency-Key."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


REPORT_FIELDS = ("error_message", "errorType", "httpStatus", "retryAfter", "workerId", "leaseToken")


class JobUpdate(StrictModel):
    """``PATCH /api/scrape-jobs/{id}``: edits, a cancel, or a worker's report."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "minProperties": 1,
            "dependentSchemas": {
                **dict.fromkeys(REPORT_FIELDS, with_status("completed", "failed")),
                "note": with_status("completed"),
            },
        },
    )

    priority: Priority | None = None
    max_retries: MaxRetries | None = None
    config: JobConfig | None = None
    metadata: Metadata | None = None
    # pending and running are refused with a reason, so the document does not offer them.
    status: (
        Annotated[
            Literal["pending", "running", "completed", "failed", "cancelled"],
            Documented(enum=["completed", "failed", "cancelled"]),
        ]
        | None
    ) = None
    # A worker's report of an attempt (status completed or failed only):
    error_message: Annotated[Text, StringConstraints(max_length=10_000)] | None = None
    errorType: ErrorType | None = None
    httpStatus: Annotated[StrictInt, Field(ge=100, le=599), INTEGRAL] | None = None
    retryAfter: (
        Annotated[StrictFloat, Field(ge=0, le=MAX_RETRY_AFTER, allow_inf_nan=False)] | None
    ) = None
    workerId: Name | None = None
    leaseToken: LeaseToken | None = None
    # A completed attempt's note: what it did not cover, and why.
    note: Annotated[Text, StringConstraints(max_length=2_000)] | None = None

    @property
    def is_report(self) -> bool:
        """A worker's report of its attempt's outcome (else an edit or a cancel)."""
        return self.status in ("completed", "failed")

    @model_validator(mode="after")
    def _report_fields_need_a_report(self) -> JobUpdate:
        given = sorted(set(REPORT_FIELDS) & self.model_fields_set)
        if given and not self.is_report:
            raise ValueError(
                f"{', '.join(given)} may only be sent with status 'completed' or 'failed'"
            )
        if "note" in self.model_fields_set and self.status != "completed":
            raise ValueError("note may only be sent with status 'completed'")
        if self.model_fields_set == set():
            raise ValueError("nothing to update")
        return self

    def edit(self) -> JobEdit:
        """The operator's changes in this request (all None for a bare report or cancel)."""
        return JobEdit(
            priority=self.priority,
            max_retries=self.max_retries,
            config=self.config.values() if self.config is not None else None,
            metadata=self.metadata,
        )

    def failure(self) -> Failure:
        """A ``failed`` report classified: errorType, else httpStatus, else the message."""
        return classify(
            self.error_message or "Job failed",
            error_type=self.errorType,
            http_status=self.httpStatus,
            retry_after=self.retryAfter,
        )


class RetryRequest(StrictModel):
    """``POST /api/scrape-jobs/{id}/retry`` (the body is optional)."""

    delaySeconds: Delay = 0


class BulkRetryRequest(StrictModel):
    """``POST /api/scrape-jobs/retry``: retry the failed jobs that match."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=one_of_given("domain", "failurePattern", "errorContains", "ids"),
    )

    domain: Domain | None = None
    failurePattern: FailurePattern | None = None
    errorContains: Annotated[Text, StringConstraints(min_length=1, max_length=500)] | None = None
    ids: Annotated[list[JobId], Field(min_length=1, max_length=1000)] | None = None
    limit: Annotated[StrictInt, Field(ge=1, le=1000), INTEGRAL] = 100
    delaySeconds: Delay = 0

    @model_validator(mode="after")
    def _needs_a_filter(self) -> BulkRetryRequest:
        filters = (self.domain, self.failurePattern, self.errorContains, self.ids)
        if all(value is None for value in filters):
            raise ValueError("give at least one of domain, failurePattern, errorContains or ids")
        return self


class PruneRequest(StrictModel):
    """``POST /api/scrape-jobs/prune``: delete the ended jobs unchanged for ``olderThan``."""

    olderThan: Annotated[
        str, StringConstraints(min_length=1, max_length=20), Documented(pattern=DURATION_PATTERN)
    ]
    """A duration: ``90s``, ``30m``, ``24h``, ``30d``, ``2w``."""
    status: list[Literal["completed", "failed", "cancelled"]] | None = None
    """Only these statuses (default: all three)."""
    dryRun: StrictBool = False


class ClaimRequest(StrictModel):
    """``POST /api/scrape-jobs/next`` (the body is optional)."""

    workerId: Name | None = None
    leaseSeconds: LeaseSeconds | None = None


class HeartbeatRequest(StrictModel):
    """``POST /api/scrape-jobs/{id}/heartbeat``: ``leaseToken`` renews the lease;
    ``workerId`` only names the worker."""

    workerId: Name | None = None
    leaseToken: LeaseToken | None = None
    leaseSeconds: LeaseSeconds | None = None
