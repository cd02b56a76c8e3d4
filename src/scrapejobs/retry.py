"""The retry policy: given a failed job, retry it (when, with what config) or give up.

Pure and clock-free: callers pass ``now`` and a random source, and get a
decision object back. Nothing here retries by control flow.

Backoff. Retry number ``k`` (1 for the first retry) waits::

    delay_k = delays[min(k, len(delays)) - 1] * uniform(1 - jitter, 1 + jitter)
    delay_k = max(delay_k, retry_after)      # when the server sent Retry-After
                                             # and config.respectRetryAfter

With the default ``delays = (60, 300, 900)`` and ``jitter = 0.2`` the first
retry waits 48-72 s, the second 240-360 s, the third and any later one
720-1080 s; a 429 with ``Retry-After: 1200`` waits at least 1200 s.

Config adjustments for the next attempt (CONTRACT section 5), keyed by the
last failure's error type: timeout x 1.5 (cap 120 s) after a timeout; one
connection, ``delay >= 2000`` ms and ``respectRetryAfter`` after a 429;
another user agent after a 403 (automatically only once).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import Job, JobStatus, timestamp

__all__ = [
    "ALTERNATE_USER_AGENTS",
    "GiveUp",
    "RetryPlan",
    "RetryPolicy",
    "RetryRefused",
    "adjust_config",
    "manual_retry_refusal",
]

MAX_TIMEOUT_MS = 120_000
RATE_LIMITED_MIN_DELAY_MS = 2_000
FORBIDDEN_AUTO_RETRIES = 1

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


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """Retry: the job goes back to ``pending`` with these values, in one step."""

    retry_count: int
    scheduled_at: datetime
    config: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def reason(self) -> str:
        return str(self.metadata["retryReason"])


@dataclass(frozen=True, slots=True)
class GiveUp:
    """No automatic retry: the job stays ``failed``."""

    reason: str


@dataclass(frozen=True, slots=True)
class RetryRefused:
    """A manual retry is not allowed; ``limit_reached`` tells which of the seed's errors."""

    limit_reached: bool
    reason: str


def manual_retry_refusal(job: Job) -> RetryRefused | None:
    """Why ``job`` cannot be retried by hand now, or None when it can."""
    if job.status is not JobStatus.FAILED:
        return RetryRefused(False, NOT_FAILED_REASONS[job.status])
    if job.retry_count >= job.max_retries:
        return RetryRefused(True, "Job has exceeded maximum retry attempts")
    return None


def _last_error_type(job: Job) -> ErrorType | None:
    try:
        return ErrorType(str(job.metadata.get("errorType")))
    except ValueError:
        return None


def _next_user_agent(current: str, rotation: int) -> str:
    candidates = [agent for agent in ALTERNATE_USER_AGENTS if agent != current]
    return candidates[rotation % len(candidates)]


def adjust_config(
    config: Mapping[str, Any], error_type: ErrorType | None, rotation: int = 0
) -> dict[str, Any]:
    """The config for the next attempt after a failure of ``error_type``.

    >>> adjust_config({"timeout": 30000}, ErrorType.TIMEOUT)
    {'timeout': 45000}
    """
    adjusted = dict(config)
    if error_type is ErrorType.TIMEOUT:
        timeout = int(adjusted.get("timeout", 30000))
        adjusted["timeout"] = min(math.ceil(timeout * 1.5), MAX_TIMEOUT_MS)
    elif error_type is ErrorType.RATE_LIMITED:
        adjusted["maxConcurrentRequests"] = 1
        adjusted["delay"] = max(int(adjusted.get("delay", 0)), RATE_LIMITED_MIN_DELAY_MS)
        adjusted["respectRetryAfter"] = True
    elif error_type is ErrorType.SERVICE_UNAVAILABLE:
        adjusted["respectRetryAfter"] = True
    elif error_type is ErrorType.FORBIDDEN:
        adjusted["userAgent"] = _next_user_agent(str(adjusted.get("userAgent", "")), rotation)
    return adjusted


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff delays per retry number (the last repeats) and their jitter."""

    delays: tuple[float, ...] = (60.0, 300.0, 900.0)
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not self.delays or any(d < 0 or not math.isfinite(d) for d in self.delays):
            raise ValueError("retry delays must be one or more finite numbers >= 0")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based), jitter included."""
        base = self.delays[min(max(retry_number, 1), len(self.delays)) - 1]
        return base * rng.uniform(1 - self.jitter, 1 + self.jitter)

    def plan(
        self,
        job: Job,
        *,
        actor: str,
        now: datetime,
        delay_seconds: float,
        reason: str,
    ) -> RetryPlan:
        """The retry step itself, manual or automatic (CONTRACT section 5)."""
        error_type = _last_error_type(job)
        rotations = int(job.metadata.get("userAgentRotations", 0))
        metadata = {
            **job.metadata,
            "retryReason": reason,
            "lastError": job.error_message,
            "retriedAt": timestamp(now),
            "retriedBy": actor,
        }
        metadata.pop("noRetryReason", None)
        if error_type is ErrorType.FORBIDDEN:
            metadata["userAgentRotations"] = rotations + 1
        return RetryPlan(
            retry_count=job.retry_count + 1,
            scheduled_at=now + timedelta(seconds=delay_seconds),
            config=adjust_config(job.config, error_type, rotations),
            metadata=metadata,
        )

    def decide(
        self, job: Job, failure: Failure, *, now: datetime, rng: random.Random
    ) -> RetryPlan | GiveUp:
        """Automatic retry of ``job``, whose last attempt just failed with ``failure``.

        ``job`` already carries the failure (status failed, error message and
        metadata errorType/failurePattern).
        """
        refusal = self._refusal(job, failure)
        if refusal is not None:
            return GiveUp(refusal)
        delay = self.backoff(job.retry_count + 1, rng)
        if failure.retry_after is not None and job.config.get("respectRetryAfter", True):
            delay = max(delay, failure.retry_after)
        reason = f"Automatic retry after {failure.error_type.value} error"
        return self.plan(job, actor="system", now=now, delay_seconds=delay, reason=reason)

    @staticmethod
    def _refusal(job: Job, failure: Failure) -> str | None:
        if not job.config.get("autoRetry", True):
            return "Automatic retry is off for this job"
        if not failure.error_type.retryable:
            return f"{failure.error_type.value} errors are not retried automatically"
        if job.retry_count >= job.max_retries:
            return "Job has exceeded maximum retry attempts"
        rotations = int(job.metadata.get("userAgentRotations", 0))
        if failure.error_type is ErrorType.FORBIDDEN and rotations >= FORBIDDEN_AUTO_RETRIES:
            return "forbidden again after a retry with another user agent"
        return None
