"""Which jobs a list, a count or a bulk retry is about: a plain domain value.

:class:`JobFilter` says what matches in the domain's words; storage compiles
it to SQL (``storage/filters.py``) and the in-memory store applies
:meth:`JobFilter.matches`. The manager's scenarios (``tests/unit/
test_manager.py``) run the same filters through both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scrapejobs.failures import FailurePattern
from scrapejobs.jobs import Job, JobStatus, JobType
from scrapejobs.sites import same_site_domains

__all__ = ["JobFilter"]


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
        )
        return all(checks)
