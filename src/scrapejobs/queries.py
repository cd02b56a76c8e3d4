"""Which jobs a list, a count or a bulk retry is about: a plain domain value.

:class:`JobFilter` says what matches in the domain's words; storage compiles
it to SQL (``storage/filters.py``) and the in-memory store applies
:meth:`JobFilter.matches`. The manager's scenarios (``tests/unit/
test_manager.py``) run the same filters through both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from scrapejobs.failures import FailurePattern
from scrapejobs.jobs import Job, JobStatus, JobType
from scrapejobs.sites import same_site_domains

__all__ = [
    "NEWEST_FIRST",
    "OLDEST_FIRST",
    "STATUS_ORDER",
    "JobFilter",
    "JobOrder",
    "SortKey",
    "id_prefix",
]


@dataclass(frozen=True, slots=True)
class JobFilter:
    """The list, count and bulk-retry filters; None means "any"."""

    status: JobStatus | None = None
    domain: str | None = None
    """A normalized domain (``normalize_domain``): matches the jobs whose domain
    names the same site (:attr:`domains`), whichever way it was spelled."""
    job_type: JobType | None = None
    failure_pattern: FailurePattern | None = None
    """The pattern of the job's current failure (``Job.failure``)."""
    error_contains: str | None = None
    """Text in the current failure's message, case-insensitive."""
    ids: tuple[str, ...] | None = None
    created_since: datetime | None = None
    search: str | None = None
    """A job id (whole, or its first 8+ characters, :func:`id_prefix`), or text in
    the domain or in ``config.startUrl``, case-insensitive."""
    retries_left: bool | None = None
    """True: jobs under their retry limit (``retry_count < max_retries``); False:
    jobs that used all their retries (``Job.retries_exhausted``)."""

    @property
    def domains(self) -> tuple[str, ...]:
        """The domain values that :attr:`domain` matches: ``127.0.0.1:8081`` matches
        jobs submitted as ``http://127.0.0.1:8081`` too (``sites.same_site_domains``)."""
        return same_site_domains(self.domain) if self.domain is not None else ()

    def matches(self, job: Job) -> bool:
        """Whether ``job`` is one of the jobs this filter selects."""
        failure = job.failure
        checks = (
            self.status is None or job.status is self.status,
            self.domain is None or job.domain in self.domains,
            self.job_type is None or job.job_type is self.job_type,
            self.failure_pattern is None or job.failure_pattern is self.failure_pattern,
            self.error_contains is None
            or (failure is not None and self.error_contains.lower() in failure.message.lower()),
            self.ids is None or job.id in self.ids,
            self.created_since is None or job.created_at >= self.created_since,
            self.search is None or _found_by(job, self.search),
            self.retries_left is None or job.retries_exhausted is not self.retries_left,
        )
        return all(checks)


def id_prefix(search: str) -> str | None:
    """The start of a job id that ``search`` may be: 8 to 36 hex digits and dashes
    (the jobs table shows the first 8), lowercased; None for other text.

    >>> id_prefix("3F1C2D4E")
    '3f1c2d4e'
    >>> id_prefix("example") is None
    True
    """
    text = search.strip().lower()
    if 8 <= len(text) <= 36 and all(c in "0123456789abcdef-" for c in text):
        return text
    return None


def _found_by(job: Job, search: str) -> bool:
    prefix = id_prefix(search)
    if prefix is not None and job.id.startswith(prefix):
        return True
    text = search.lower()
    start_url = job.config.get("startUrl")
    return text in job.domain.lower() or (isinstance(start_url, str) and text in start_url.lower())


class SortKey(enum.StrEnum):
    """What a list of jobs can be sorted by: the whole list, in the database."""

    CREATED = "created"
    """``created_at``."""
    UPDATED = "updated"
    """``updated_at``: the latest change."""
    PRIORITY = "priority"
    RETRIES = "retries"
    """``retry_count``."""
    DOMAIN = "domain"
    """The domain as text, by code point (the same order on every database)."""
    STATUS = "status"
    """The order of a job's life (``JobStatus``): pending, running, completed,
    failed, cancelled."""


STATUS_ORDER = {status: rank for rank, status in enumerate(JobStatus)}


@dataclass(frozen=True, slots=True)
class JobOrder:
    """How a list of jobs is sorted; written ``created`` (ascending) or ``-created``.

    Jobs with the same value keep the default order among them, newest first
    (``created_at``, then ``id``), so a sort is stable from page to page. By
    ``created`` the tie-break on ``id`` goes the same way as the sort.
    """

    key: SortKey = SortKey.CREATED
    descending: bool = True

    @classmethod
    def parse(cls, text: str) -> JobOrder:
        """``-priority`` -> by priority, highest first; ValueError for an unknown key.

        >>> JobOrder.parse("-priority")
        JobOrder(key=<SortKey.PRIORITY: 'priority'>, descending=True)
        """
        name = text.strip()
        descending = name.startswith("-")
        try:
            return cls(SortKey(name.removeprefix("-")), descending)
        except ValueError:
            keys = ", ".join(key.value for key in SortKey)
            raise ValueError(
                f"Unknown sort '{text}': sort by one of {keys}; a leading - sorts descending"
            ) from None

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.key.value

    def reversed(self) -> JobOrder:
        return JobOrder(self.key, not self.descending)

    def value_of(self, job: Job) -> object:
        """The value of ``job`` this order compares (for stores sorting in memory)."""
        values = {
            SortKey.CREATED: job.created_at,
            SortKey.UPDATED: job.updated_at,
            SortKey.PRIORITY: job.priority,
            SortKey.RETRIES: job.retry_count,
            SortKey.DOMAIN: job.domain,
            SortKey.STATUS: STATUS_ORDER[job.status],
        }
        return values[self.key]


NEWEST_FIRST = JobOrder()
"""The default: ``created_at`` then ``id``, newest first."""
OLDEST_FIRST = JobOrder(SortKey.CREATED, descending=False)
"""The order bulk retry takes the failed jobs in."""
