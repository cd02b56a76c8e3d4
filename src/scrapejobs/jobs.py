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
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from scrapejobs.failures import Failure, FailurePattern
from scrapejobs.sites import site_of

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_PRIORITY",
    "MAX_METADATA_BYTES",
    "PAGE_FIELDS",
    "SYSTEM_METADATA_KEYS",
    "InvalidDomain",
    "Job",
    "JobStatus",
    "JobType",
    "LastRetry",
    "can_transition",
    "check_metadata_size",
    "normalize_domain",
    "system_facts",
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
    "truncated",
)

MAX_METADATA_BYTES = 64 * 1024
"""A job's metadata, as JSON, is at most this big; also after a PATCH merges into it."""


def check_metadata_size(metadata: Mapping[str, Any]) -> None:
    """ValueError when ``metadata`` is over ``MAX_METADATA_BYTES`` as JSON."""
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise ValueError(f"must be at most {MAX_METADATA_BYTES} bytes as JSON")


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
class LastRetry:
    """The latest retry of a job, manual or automatic (CONTRACT section 5)."""

    reason: str
    """``retryReason``: e.g. "Automatic retry after timeout error"."""
    last_error: str | None
    """``lastError``: the message of the failure the retry answered."""
    retried_at: datetime
    retried_by: str
    """``"system"`` for an automatic retry, else who asked (``"api"``, ``"dashboard"``)."""


@dataclass(frozen=True, slots=True)
class Job:
    """One scrape job as stored. Frozen: every change is a transition (``transitions.py``).

    ``metadata`` is the user's alone. What the system knows about the job's
    failures and retries lives in typed fields, written only by transitions:

    - ``failure``: the failure of the latest failed attempt. It stays while a
      retry answers it (the job is pending or running again) and is cleared
      when an attempt completes; the history stays in the events.
    - ``no_retry_reason``: why the policy scheduled no automatic retry.
    - ``user_agent_rotations``: user agents tried after 403s.
    - ``last_retry``: the latest retry.

    The API renders them inside ``metadata`` under the seed's names
    (:func:`system_facts`).
    """

    id: str
    domain: str
    job_type: JobType
    status: JobStatus
    priority: int
    retry_count: int
    max_retries: int
    config: Mapping[str, Any]
    metadata: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    scheduled_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    attempts: int = 0
    """How many times a worker has claimed the job."""
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    lease_token: str | None = None
    """A new secret with every claim, cleared when the lease ends (``scrapejobs.leases``)."""
    version: int = 1
    """Bumped by every write; conditional updates compare it."""
    failure: Failure | None = None
    no_retry_reason: str | None = None
    user_agent_rotations: int = 0
    last_retry: LastRetry | None = None
    site_waits: int = 0
    """Attempts in a row stopped by their site's cooldown and re-queued without a retry."""

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
            lease_token=None,
            **changes,
        )

    @property
    def error_message(self) -> str | None:
        """The seed's field: the failure's message while the job is failed, else None."""
        if self.status is JobStatus.FAILED and self.failure is not None:
            return self.failure.message
        return None

    @property
    def site(self) -> str:
        """The site it crawls (``sites.site_of``): its politeness is shared with the fleet."""
        start = self.config.get("startUrl")
        return site_of(self.domain, start if isinstance(start, str) else None)

    @property
    def failure_pattern(self) -> FailurePattern | None:
        return self.failure.pattern if self.failure else None

    @property
    def retries_exhausted(self) -> bool:
        """All retries used: ``retry_count >= max_retries`` (CONTRACT section 5).

        The one rule for "exhausted": the retry policy, the dashboard's retry
        control and the analytics all ask it.
        """
        return self.retry_count >= self.max_retries

    @property
    def can_retry(self) -> bool:
        """The seed's rule, settled by CONTRACT section 5."""
        return self.status is JobStatus.FAILED and not self.retries_exhausted


# The system's facts, under the names the seed shows inside ``metadata``
# (CONTRACT section 10); a request that sets one of them is refused.
SYSTEM_METADATA_KEYS = (
    "retryReason",
    "lastError",
    "retriedAt",
    "retriedBy",
    "failurePattern",
    "errorType",
    "httpStatus",
    "retryAfter",
    "noRetryReason",
    "userAgentRotations",
)


def system_facts(job: Job) -> dict[str, Any]:
    """The job's failure and retry state as the seed shows it in ``metadata``.

    Keys appear only when they have a value, in ``SYSTEM_METADATA_KEYS`` order.
    """
    facts: dict[str, Any] = {}
    if job.last_retry is not None:
        facts["retryReason"] = job.last_retry.reason
        facts["lastError"] = job.last_retry.last_error
        facts["retriedAt"] = timestamp(job.last_retry.retried_at)
        facts["retriedBy"] = job.last_retry.retried_by
    if job.failure is not None:
        facts["failurePattern"] = job.failure.pattern.value
        facts["errorType"] = job.failure.error_type.value
        if job.failure.http_status is not None:
            facts["httpStatus"] = job.failure.http_status
        if job.failure.retry_after is not None:
            facts["retryAfter"] = job.failure.retry_after
    if job.no_retry_reason is not None:
        facts["noRetryReason"] = job.no_retry_reason
    if job.user_agent_rotations:
        facts["userAgentRotations"] = job.user_agent_rotations
    return facts


def timestamp(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``, as in the seed.

    >>> timestamp(datetime(2024, 1, 1, 12, tzinfo=UTC))
    '2024-01-01T12:00:00.000Z'
    >>> timestamp(datetime(1, 1, 1, tzinfo=UTC))  # four digits, as ISO 8601 says
    '0001-01-01T00:00:00.000Z'
    """
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
