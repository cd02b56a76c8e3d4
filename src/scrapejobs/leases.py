"""Lease tokens: what fences a running attempt against reports for another one.

Pure domain code. Every claim gives its job a new lease token
(:func:`new_lease_tokens`: 128 random bits, URL-safe); only the claimer
learns it, from the claim's answer. A heartbeat, a report or a release for
a running job must carry it, and the token ends with the lease (the job
leaves ``running``). A worker id names a worker, but every slot of one
worker process shares it: the token tells one attempt from the next, so a
late report for an attempt the reaper failed (``worker_lost``) cannot land
on the retry the same worker claimed since (issue 15).

- no token                           -> ``InvalidRequest`` (a 400), nothing changes;
- not the running job's token (the   -> ``LeaseLost`` (a 409), nothing changes.
  lease ended, or was claimed again)
"""

from __future__ import annotations

import hmac
import secrets

from scrapejobs.errors import InvalidRequest, LeaseLost
from scrapejobs.jobs import Job, JobStatus

__all__ = [
    "LEASE_TOKEN_BYTES",
    "LEASE_TOKEN_LENGTH",
    "TOKEN_REQUIRED",
    "check_lease",
    "check_report",
    "holds_lease",
    "new_lease_tokens",
]

LEASE_TOKEN_BYTES = 16
LEASE_TOKEN_LENGTH = 22
"""Characters of a token: ``secrets.token_urlsafe(16)`` is always 22 (no padding)."""
TOKEN_REQUIRED = "leaseToken is required: the token the claim returned"


def new_lease_tokens(count: int) -> list[str]:
    """``count`` fresh tokens: one for each job a claim may take."""
    return [secrets.token_urlsafe(LEASE_TOKEN_BYTES) for _ in range(count)]


def holds_lease(job: Job, lease_token: str) -> bool:
    """True when ``lease_token`` is the running job's (compared in constant time)."""
    current = job.lease_token
    if job.status is not JobStatus.RUNNING or current is None:
        return False
    return hmac.compare_digest(current.encode(), lease_token.encode())


def check_lease(job: Job, lease_token: str | None, worker_id: str | None = None) -> None:
    """InvalidRequest without a token; LeaseLost unless ``lease_token`` holds the
    running job's lease (and ``worker_id``, when given, names its holder)."""
    if lease_token is None:
        raise InvalidRequest(TOKEN_REQUIRED, {"field": "leaseToken"})
    if holds_lease(job, lease_token) and worker_id in (None, job.worker_id):
        return
    if job.status is not JobStatus.RUNNING:
        reason = f"the lease ended: the job is {job.status.value}"
    elif job.worker_id != worker_id and worker_id is not None:
        reason = "another worker holds the lease"
    else:
        reason = f"not the token of attempt {job.attempts}: the job was claimed again since"
    raise LeaseLost(
        "Lease is no longer held",
        {"currentStatus": job.status.value, "workerId": worker_id, "reason": reason},
    )


def check_report(job: Job, lease_token: str | None, worker_id: str | None = None) -> None:
    """A report of an attempt's outcome: a running job's must hold its lease; for a
    job that is not running, a report without a token is left to the transition
    to refuse, and one with a token is stale."""
    if lease_token is not None or job.status is JobStatus.RUNNING:
        check_lease(job, lease_token, worker_id)
