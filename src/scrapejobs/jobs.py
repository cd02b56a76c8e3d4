"""The job: its states, the transitions between them, its default config.

Pure domain code: no I/O, no clock. Everything here can be unit-tested with
plain values.

States (CONTRACT section 4)::

    pending --claim--> running --report--> completed
       |                  |  \\--report--> failed --retry--> pending
       |                  |\\--lease expired--> failed (worker_lost)
       |                  \\--release (worker shutdown)--> pending, no retry spent
       \\------ cancel ------+--> cancelled
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_PRIORITY",
    "PAGE_FIELDS",
    "Attempt",
    "EventKind",
    "InvalidDomain",
    "Job",
    "JobEvent",
    "JobStatus",
    "JobType",
    "attempts_from_events",
    "can_transition",
    "normalize_domain",
    "timestamp",
]


class JobStatus(enum.StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"
    """Waiting for a worker; runs once ``scheduled_at`` has passed."""
    RUNNING = "running"
    """Claimed by a worker that holds a lease on it."""
    COMPLETED = "completed"
    """The last attempt succeeded. Final."""
    FAILED = "failed"
    """The last attempt failed and no automatic retry was scheduled. A retry moves it back."""
    CANCELLED = "cancelled"
    """Stopped on purpose by an operator. Final."""


class JobType(enum.StrEnum):
    """What a job crawls."""

    DOMAIN_SCRAPE = "domain_scrape"
    """Follow same-host links from the start page, breadth first."""
    PAGE_SCRAPE = "page_scrape"
    """Fetch one URL."""
    SITEMAP_SCRAPE = "sitemap_scrape"
    """Fetch the URLs listed in the site's sitemap."""


# Each allowed transition, with the step that makes it. Anything else is refused.
TRANSITIONS: Mapping[tuple[JobStatus, JobStatus], str] = {
    (JobStatus.PENDING, JobStatus.RUNNING): "claim",
    (JobStatus.RUNNING, JobStatus.COMPLETED): "report",
    (JobStatus.RUNNING, JobStatus.FAILED): "report",
    (JobStatus.RUNNING, JobStatus.PENDING): "release",
    (JobStatus.FAILED, JobStatus.PENDING): "retry",
    (JobStatus.PENDING, JobStatus.CANCELLED): "cancel",
    (JobStatus.RUNNING, JobStatus.CANCELLED): "cancel",
}


def can_transition(current: JobStatus, target: JobStatus, step: str) -> bool:
    """True when ``step`` may move a job from ``current`` to ``target``."""
    return TRANSITIONS.get((current, target)) == step


# The fields of one crawled page, in the order the results export gives them
# (docs/api.md); the server writes them and the CLI's CSV export reads them.
PAGE_FIELDS = (
    "url",
    "final_url",
    "status",
    "depth",
    "content_type",
    "title",
    "text",
    "links",
    "bytes",
    "fetched_at",
    "error",
)

DEFAULT_PRIORITY = 5
DEFAULT_MAX_RETRIES = 3
DEFAULT_USER_AGENT = "scrapejobs/0.1 (+https://github.com/scrapejobs/scrapejobs)"

# Filled in on create so that a job shows exactly what it will run with, and
# the attempt history can show how retries changed it.
DEFAULT_CONFIG: Mapping[str, Any] = {
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


@dataclass(frozen=True, slots=True)
class Job:
    """One scrape job as stored. Frozen: every change goes through the store."""

    id: str
    domain: str
    job_type: JobType
    status: JobStatus
    priority: int
    retry_count: int
    max_retries: int
    config: Mapping[str, Any]
    metadata: Mapping[str, Any]
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    scheduled_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    attempts: int = 0
    """How many times a worker has claimed the job."""
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    version: int = 1
    """Bumped by every write; conditional updates compare it."""

    def moved_to(self, status: JobStatus, now: datetime, **changes: Any) -> Job:
        """This job after a transition to ``status`` at ``now`` (not a claim).

        Any lease ends; ``completed_at`` records when a run ended for good
        (completed, failed, cancelled) and is cleared otherwise.
        """
        ended = status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
        return replace(
            self,
            status=status,
            updated_at=now,
            completed_at=now if ended else None,
            worker_id=None,
            lease_expires_at=None,
            **changes,
        )

    @property
    def can_retry(self) -> bool:
        """The seed's rule, settled by CONTRACT section 5."""
        return self.status is JobStatus.FAILED and self.retry_count < self.max_retries

    @property
    def failure_pattern(self) -> str | None:
        value = self.metadata.get("failurePattern")
        return value if isinstance(value, str) else None


def timestamp(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``, as in the seed.

    >>> timestamp(datetime(2024, 1, 1, 12, tzinfo=UTC))
    '2024-01-01T12:00:00.000Z'
    """
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class InvalidDomain(ValueError):
    """The domain is not a host, host:port or http(s) origin."""


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _check_host(host: str) -> str:
    if not host:
        raise InvalidDomain("domain has no host")
    if host.startswith("[") and host.endswith("]"):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError as exc:
            raise InvalidDomain(f"invalid IPv6 address: {host}") from exc
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidDomain(f"invalid host name: {host}") from exc
    ascii_host = ascii_host.rstrip(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in ascii_host.split(".")):
        raise InvalidDomain(f"invalid host name: {host}")
    return ascii_host


def _check_port(port: str) -> str:
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise InvalidDomain(f"invalid port: {port}")
    return str(int(port))


def _split_host_port(text: str) -> tuple[str, str | None]:
    if text.startswith("["):
        host, bracket, rest = text.partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise InvalidDomain(f"invalid IPv6 address: {text}")
        return host + bracket, rest[1:] if rest else None
    if ":" in text:
        host, _, port = text.rpartition(":")
        return host, port
    return text, None


def normalize_domain(value: str) -> str:
    """Validate and normalise a job's domain.

    Accepts ``example.com``, ``example.com:8080`` or an origin such as
    ``http://127.0.0.1:8081`` (a trailing slash is dropped). Host names are
    lower-cased and IDNA-encoded. Paths, queries, credentials and other
    schemes are refused.

    >>> normalize_domain("Example.COM")
    'example.com'
    >>> normalize_domain("http://127.0.0.1:8081/")
    'http://127.0.0.1:8081'
    """
    text = value.strip()
    if not text:
        raise InvalidDomain("domain must not be empty")
    if any(ch.isspace() for ch in text):
        raise InvalidDomain("domain must not contain white space")
    scheme = ""
    if "://" in text:
        scheme, _, text = text.partition("://")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise InvalidDomain("domain origin must use http or https")
        text = text.removesuffix("/")
    if any(ch in text for ch in "/?#@\\"):
        raise InvalidDomain("domain must be a host, host:port or origin, without path or query")
    host, port = _split_host_port(text)
    normal = _check_host(host)
    if port is not None:
        normal = f"{normal}:{_check_port(port)}"
    return f"{scheme}://{normal}" if scheme else normal


class EventKind(enum.StrEnum):
    """What a job event records. Each transition and each attempt writes one."""

    CREATED = "created"
    UPDATED = "updated"
    STARTED = "started"
    """A worker claimed the job: an attempt begins."""
    COMPLETED = "completed"
    FAILED = "failed"
    """An attempt failed (a worker's report, or a lease that expired)."""
    RETRIED = "retried"
    """``failed -> pending`` by a retry, manual or automatic."""
    RELEASED = "released"
    """A stopping worker gave the job back without spending a retry."""
    CANCELLED = "cancelled"


# Events that end an attempt, and the attempt's outcome they stand for.
ATTEMPT_ENDINGS = frozenset(
    {EventKind.COMPLETED, EventKind.FAILED, EventKind.RELEASED, EventKind.CANCELLED}
)


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One row of a job's history."""

    job_id: str
    at: datetime
    event: EventKind
    actor: str
    retry_count: int
    from_status: JobStatus | None = None
    to_status: JobStatus | None = None
    attempt: int | None = None
    error_message: str | None = None
    error_type: str | None = None
    failure_pattern: str | None = None
    http_status: int | None = None
    details: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Attempt:
    """One run of a job, assembled from its ``started`` event and the event that ended it."""

    attempt: int
    started_at: datetime
    workerId: str
    finished_at: datetime | None = None
    outcome: str = "running"
    errorType: str | None = None
    failurePattern: str | None = None
    httpStatus: int | None = None
    error_message: str | None = None


def attempts_from_events(events: list[JobEvent]) -> list[Attempt]:
    """The attempt history, oldest first, from a job's events in order."""
    attempts: dict[int, Attempt] = {}
    for event in events:
        if event.attempt is None:
            continue
        if event.event is EventKind.STARTED:
            attempts[event.attempt] = Attempt(event.attempt, event.at, event.actor)
        elif event.event in ATTEMPT_ENDINGS and event.attempt in attempts:
            run = attempts[event.attempt]
            run.finished_at = event.at
            run.outcome = event.event.value
            run.errorType = event.error_type
            run.failurePattern = event.failure_pattern
            run.httpStatus = event.http_status
            run.error_message = event.error_message
    return sorted(attempts.values(), key=lambda run: run.attempt)
