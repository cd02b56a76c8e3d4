"""The retry policy: given a failed job, retry it (when, with what config) or give up.

Pure and clock-free: callers pass ``now`` and a random source, and get a
decision object back. Nothing here retries by control flow, and every tuning
number is a field of :class:`RetryPolicy` (defaults as in CONTRACT section 5).

Backoff. Retry number ``k`` (1 for the first retry) waits::

    delay_k = delays[min(k, len(delays)) - 1] * uniform(1 - jitter, 1 + jitter)
    delay_k = max(delay_k, retry_after)      # when the server sent Retry-After
                                             # and config.respectRetryAfter

With the default ``delays = (60, 300, 900)`` and ``jitter = 0.2`` the first
retry waits 48-72 s, the second 240-360 s, the third and any later one
720-1080 s; a 429 with ``Retry-After: 1200`` waits at least 1200 s.

Config adjustments for the next attempt, keyed by the last failure's error
type: ``timeout * timeout_factor`` (capped at ``max_timeout_ms``) after a
timeout, so 30000 -> 45000 -> 67500 -> 101250 -> 120000; one connection,
``delay >= rate_limited_min_delay_ms`` and ``respectRetryAfter`` after a 429;
the next of ``user_agents`` after a 403 (automatically ``forbidden_retries``
times); after a ``blocked`` response (never retried automatically; by hand)
both another user agent and the 429's slower pace.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scrapejobs.errors import RetryNotAllowed
from scrapejobs.failures import ErrorType
from scrapejobs.jobs import Job, JobStatus, LastRetry

__all__ = [
    "ALTERNATE_USER_AGENTS",
    "GiveUp",
    "RetryPlan",
    "RetryPolicy",
    "RetryRefused",
    "manual_retry_refusal",
]

ALTERNATE_USER_AGENTS: tuple[str, ...] = (
    "AlternateBot/2.0",
    "Mozilla/5.0 (compatible; scrapejobs/0.1; +https://github.com/scrapejobs/scrapejobs)",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 scrapejobs/0.1",
)

# Why a job that is not failed cannot be retried (CONTRACT section 6).
NOT_FAILED_REASONS: Mapping[JobStatus, str] = {
    JobStatus.COMPLETED: "Job is not in a failed state",
    JobStatus.RUNNING: "Job is currently in progress",
    JobStatus.PENDING: "Job is already queued",
    JobStatus.CANCELLED: "Cancelled jobs are intentionally stopped",
}
EXHAUSTED = "Job has exceeded maximum retry attempts"
ROTATING = frozenset({ErrorType.FORBIDDEN, ErrorType.BLOCKED})
"""Failures after which the next attempt goes with another user agent."""


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """Retry: the job goes back to ``pending`` with these values, in one step."""

    retry_count: int
    scheduled_at: datetime
    config: dict[str, Any]
    last_retry: LastRetry
    user_agent_rotations: int

    @property
    def reason(self) -> str:
        return self.last_retry.reason


@dataclass(frozen=True, slots=True)
class GiveUp:
    """No automatic retry: the job stays ``failed``."""

    reason: str


@dataclass(frozen=True, slots=True)
class RetryRefused:
    """A manual retry is not allowed; ``limit_reached`` tells which of the seed's errors."""

    limit_reached: bool
    reason: str

    def error(self, job: Job) -> RetryNotAllowed:
        """The seed's error for it, with its ``details``."""
        if self.limit_reached:
            return RetryNotAllowed(
                "Job has exceeded maximum retry attempts",
                {
                    "jobId": job.id,
                    "currentRetries": job.retry_count,
                    "maxRetries": job.max_retries,
                    "lastError": job.error_message,
                    "failurePattern": job.failure_pattern,
                },
            )
        return RetryNotAllowed(
            "Job cannot be retried", {"currentStatus": job.status.value, "reason": self.reason}
        )


def manual_retry_refusal(job: Job) -> RetryRefused | None:
    """Why ``job`` cannot be retried by hand now, or None when it can."""
    if job.status is not JobStatus.FAILED:
        return RetryRefused(False, NOT_FAILED_REASONS[job.status])
    if job.retries_exhausted:
        return RetryRefused(True, EXHAUSTED)
    return None


def _error_type(job: Job) -> ErrorType | None:
    return job.failure.error_type if job.failure else None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to retry, how long to wait, and what to change for the next attempt."""

    delays: tuple[float, ...] = (60.0, 300.0, 900.0)
    """Seconds before retry 1, 2, 3, ...; the last repeats."""
    jitter: float = 0.2
    """Each delay is scaled by a uniform factor in ``[1 - jitter, 1 + jitter]``."""
    timeout_factor: float = 1.5
    max_timeout_ms: int = 120_000
    rate_limited_min_delay_ms: int = 2_000
    forbidden_retries: int = 1
    """Automatic retries after a 403, each with another user agent."""
    user_agents: tuple[str, ...] = ALTERNATE_USER_AGENTS
    free_waits: int = 10
    """Attempts in a row stopped by their site's cooldown that are re-queued without
    spending a retry; past them a cooldown fails an attempt like any failure, so a
    site that never stops asking to wait cannot hold a job for ever."""

    def __post_init__(self) -> None:
        if not self.delays or any(d < 0 or not math.isfinite(d) for d in self.delays):
            raise ValueError("retry delays must be one or more finite numbers >= 0")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if not self.timeout_factor >= 1 or not self.user_agents:
            raise ValueError("timeout factor must be >= 1 and user agents not empty")

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based), jitter included."""
        base = self.delays[min(max(retry_number, 1), len(self.delays)) - 1]
        return base * rng.uniform(1 - self.jitter, 1 + self.jitter)

    def adjust_config(
        self, config: Mapping[str, Any], error_type: ErrorType | None, rotation: int = 0
    ) -> dict[str, Any]:
        """The config for the next attempt after a failure of ``error_type``.

        >>> RetryPolicy().adjust_config({"timeout": 30000}, ErrorType.TIMEOUT)
        {'timeout': 45000}
        """
        adjusted = dict(config)
        if error_type is ErrorType.TIMEOUT:
            timeout = int(adjusted.get("timeout", 30000))
            adjusted["timeout"] = min(math.ceil(timeout * self.timeout_factor), self.max_timeout_ms)
        if error_type in (ErrorType.RATE_LIMITED, ErrorType.BLOCKED):
            adjusted["maxConcurrentRequests"] = 1
            delay = int(adjusted.get("delay", 0))
            adjusted["delay"] = max(delay, self.rate_limited_min_delay_ms)
        if error_type in (ErrorType.RATE_LIMITED, ErrorType.SERVICE_UNAVAILABLE):
            adjusted["respectRetryAfter"] = True
        if error_type in ROTATING:
            adjusted["userAgent"] = self._next_user_agent(
                str(adjusted.get("userAgent", "")), rotation
            )
        return adjusted

    def _next_user_agent(self, current: str, rotation: int) -> str:
        candidates = [agent for agent in self.user_agents if agent != current] or [current]
        return candidates[rotation % len(candidates)]

    def plan(
        self, job: Job, *, actor: str, now: datetime, delay_seconds: float, reason: str
    ) -> RetryPlan:
        """The retry step itself, manual or automatic (CONTRACT section 5)."""
        error_type = _error_type(job)
        rotations = job.user_agent_rotations
        return RetryPlan(
            retry_count=job.retry_count + 1,
            scheduled_at=now + timedelta(seconds=delay_seconds),
            config=self.adjust_config(job.config, error_type, rotations),
            last_retry=LastRetry(reason, job.error_message, now, actor),
            user_agent_rotations=rotations + (error_type in ROTATING),
        )

    def manual(
        self, job: Job, *, actor: str, now: datetime, delay_seconds: float = 0
    ) -> RetryPlan | RetryRefused:
        """A retry someone asked for (``POST .../retry``): allowed for any failed job
        under the limit, permanent failures included (the site may have been fixed)."""
        refusal = manual_retry_refusal(job)
        if refusal is not None:
            return refusal
        error_type = _error_type(job)
        reason = f"Manual retry after {error_type.value} error" if error_type else "Manual retry"
        return self.plan(job, actor=actor, now=now, delay_seconds=delay_seconds, reason=reason)

    def decide(self, job: Job, *, now: datetime, rng: random.Random) -> RetryPlan | GiveUp:
        """Automatic retry of ``job``, whose last attempt just failed with ``job.failure``."""
        failure = job.failure
        if failure is None:
            raise ValueError("decide() needs a job that carries its failure")
        refusal = self._refusal(job, failure.error_type)
        if refusal is not None:
            return GiveUp(refusal)
        delay = self.backoff(job.retry_count + 1, rng)
        if failure.retry_after is not None and job.config.get("respectRetryAfter", True):
            delay = max(delay, failure.retry_after)
        reason = f"Automatic retry after {failure.error_type.value} error"
        return self.plan(job, actor="system", now=now, delay_seconds=delay, reason=reason)

    def _refusal(self, job: Job, error_type: ErrorType) -> str | None:
        if not job.config.get("autoRetry", True):
            return "Automatic retry is off for this job"
        if not error_type.retryable:
            return f"{error_type.value} errors are not retried automatically"
        if job.retries_exhausted:
            return EXHAUSTED
        if error_type is ErrorType.FORBIDDEN and job.user_agent_rotations >= self.forbidden_retries:
            return "forbidden again after a retry with another user agent"
        return None
