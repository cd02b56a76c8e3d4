"""The audit log: one entry for every change a person or a script makes.

Every create, edit, cancel, delete, retry (one or in bulk), prune, site
change and key change made through the API, the dashboard or the CLI
writes one :class:`AuditEntry`: who (the key's name, or ``api`` /
``dashboard`` / ``cli`` while no key exists) with which role, from which
address, what, to which job, site or key, when, and the job's fields before
and after where they changed. Entries are kept apart from the jobs, so they
outlive deleted and pruned jobs. What workers do (claims, heartbeats,
reports) is the jobs' own history, not audited here: it is the system at
work, thousands of times a minute, and the job events record it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from scrapejobs.access import Caller
from scrapejobs.jobs import Job

__all__ = ["AuditAction", "AuditEntry", "AuditFilter", "Audited", "job_change", "job_fields"]


class AuditAction(StrEnum):
    JOB_CREATE = "job.create"
    JOB_EDIT = "job.edit"
    JOB_CANCEL = "job.cancel"
    JOB_DELETE = "job.delete"
    JOB_RETRY = "job.retry"
    JOBS_BULK_RETRY = "jobs.bulk_retry"
    JOBS_PRUNE = "jobs.prune"
    SITE_UPDATE = "site.update"
    SITE_RESUME = "site.resume"
    KEY_CREATE = "key.create"
    KEY_REVOKE = "key.revoke"


@dataclass(frozen=True, slots=True)
class Audited:
    """Who makes a change, and how it reached us: the first half of every entry."""

    caller: Caller
    via: str
    """``api``, ``dashboard`` or ``cli``."""
    address: str | None = None
    """The client's address, as the server saw it (a proxy's, unless it forwards)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    role: str
    via: str
    address: str | None
    action: AuditAction
    target: str | None
    """The job id, site or key name the change was made to (None for bulk changes)."""
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: AuditAction | None = None
    target: str | None = None
    since: datetime | None = None


AUDITED_FIELDS = ("status", "priority", "max_retries", "retry_count", "config", "metadata")


def job_fields(job: Job) -> dict[str, Any]:
    """What an entry keeps of a job: its operator-visible state."""
    return {
        "domain": job.domain,
        "status": job.status.value,
        "priority": job.priority,
        "max_retries": job.max_retries,
        "retry_count": job.retry_count,
        "config": dict(job.config),
        "metadata": dict(job.metadata),
    }


def job_change(before: Job, after: Job) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, before and after (an edit of one field keeps one)."""
    old, new = job_fields(before), job_fields(after)
    changed = [name for name in AUDITED_FIELDS if old[name] != new[name]]
    return {name: old[name] for name in changed}, {name: new[name] for name in changed}
