"""A job's history: one event per transition and per attempt, and the attempts built from them.

Pure domain code. The store writes an event in the same transaction as the
change it records, so a job and its history never disagree; the attempt
history of ``GET /api/scrape-jobs/{id}`` and the dashboard's timeline are
read from them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scrapejobs.jobs import JobStatus

__all__ = [
    "ATTEMPT_ENDINGS",
    "Attempt",
    "EventKind",
    "JobEvent",
    "attempts_from_events",
    "retry_label",
]


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
    WAITING = "waiting"
    """``failed -> pending`` without a retry: the attempt was stopped by its site's
    cooldown; the job waits for the site (``details``: reason, until)."""
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
    queue_wait: float | None = None
    """On a ``started`` event: seconds the attempt waited for a worker, from when the
    job was due (its ``scheduled_at``) to the claim (migration 0009)."""


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
    note: str | None = None
    """What a completed attempt did not cover, and why (its deadline, a sitemap read in part)."""
    retry_count: int = 0
    """The job's retries when the attempt began: 0 for the original, k for retry k."""


def attempts_from_events(events: list[JobEvent]) -> list[Attempt]:
    """The attempt history, oldest first, from a job's events in order."""
    attempts: dict[int, Attempt] = {}
    for event in events:
        if event.attempt is None:
            continue
        if event.event is EventKind.STARTED:
            attempts[event.attempt] = Attempt(
                event.attempt, event.at, event.actor, retry_count=event.retry_count
            )
        elif event.event in ATTEMPT_ENDINGS and event.attempt in attempts:
            run = attempts[event.attempt]
            run.finished_at = event.at
            run.outcome = event.event.value
            run.errorType = event.error_type
            run.failurePattern = event.failure_pattern
            run.httpStatus = event.http_status
            run.error_message = event.error_message
            run.note = (event.details or {}).get("note")
    return sorted(attempts.values(), key=lambda run: run.attempt)


def retry_label(retry_count: int) -> str:
    """Which run an attempt is, counted as the seed counts: ``original``, ``retry 1``...

    The seed's message ``Job scheduled for retry (attempt 2/3)`` numbers an
    attempt by the retries before it, so every place that names one says
    ``retry k`` (of ``max_retries``) and never a run number (issue 17).
    """
    return "original" if retry_count == 0 else f"retry {retry_count}"
