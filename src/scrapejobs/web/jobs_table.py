"""The jobs table's view model: filters, search and sort in the query string, rows, pages.

Pure: no I/O and no clock. ``dashboard.py`` parses the query string here,
asks the JobManager for one sorted page (the store sorts, never this
module), and hands the rows, the counts, the pages and the "retry the failed
jobs" offer to ``_jobs_live.html``; the sortable headings are ``jobs_sort.py``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from scrapejobs.failures import FailurePattern
from scrapejobs.jobs import InvalidDomain, Job, JobStatus, JobType, normalize_domain, timestamp
from scrapejobs.queries import NEWEST_FIRST, JobOrder
from scrapejobs.web.forms import retry_breakdown, retry_button_label
from scrapejobs.web.views import last_error, next_run, relative, retries_label, shorten

__all__ = [
    "PAGE_SIZE",
    "SEARCH_MAX",
    "JobFilters",
    "JobRow",
    "Pagination",
    "RetryOffer",
    "StatusCount",
    "job_row",
    "last_page",
    "paginate",
    "parse_filters",
    "retry_offer",
    "scope_terms",
    "status_counts",
]

PAGE_SIZE = 25
"""Jobs per page of the jobs table."""
SEARCH_MAX = 500
"""Characters a search may have (the API's limit)."""

E = TypeVar("E", bound=enum.StrEnum)


@dataclass(frozen=True, slots=True)
class JobFilters:
    """The jobs page's filters, search, sort and page, as they travel in the query string."""

    status: JobStatus | None = None
    domain: str | None = None
    job_type: JobType | None = None
    failure_pattern: FailurePattern | None = None
    page: int = 1
    search: str | None = None
    sort: JobOrder = NEWEST_FIRST

    def params(self, **changes: Any) -> dict[str, str]:
        """The non-empty query parameters, with ``changes`` applied (defaults left out)."""
        values: dict[str, Any] = {
            "status": self.status,
            "domain": self.domain,
            "job_type": self.job_type,
            "failure_pattern": self.failure_pattern,
            "search": self.search,
            "sort": self.sort,
            "page": self.page,
            **changes,
        }
        defaults = {"page": 1, "sort": NEWEST_FIRST}
        return {
            name: str(value)
            for name, value in values.items()
            if value not in (None, "") and not (name in defaults and value == defaults[name])
        }

    def query(self, **changes: Any) -> str:
        """``status=failed&domain=example.com``; changing a filter or the sort resets the page."""
        if any(name != "page" for name in changes):
            changes.setdefault("page", 1)
        return urlencode(self.params(**changes))

    @property
    def filtered(self) -> bool:
        """Whether any filter or search narrows the jobs (the sort and page do not)."""
        return bool(self.params(page=1, sort=NEWEST_FIRST))


def _choice(kind: type[E], raw: str | None, name: str, errors: dict[str, str]) -> E | None:
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        errors[name] = f"Unknown {name.replace('_', ' ')} '{raw}'"
        return None


def _domain(raw: str | None, errors: dict[str, str]) -> str | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return normalize_domain(text)
    except InvalidDomain as exc:
        errors["domain"] = str(exc)
        return None


def _search(raw: str | None, errors: dict[str, str]) -> str | None:
    text = (raw or "").strip()
    if len(text) > SEARCH_MAX:
        errors["search"] = f"search must be at most {SEARCH_MAX} characters"
        return None
    if any(ord(ch) < 0x20 for ch in text):
        errors["search"] = "search must not contain control characters"
        return None
    return text or None


def _sort(raw: str | None, errors: dict[str, str]) -> JobOrder:
    if not raw:
        return NEWEST_FIRST
    try:
        return JobOrder.parse(raw)
    except ValueError as exc:
        errors["sort"] = f"{exc}. Showing the newest first."
        return NEWEST_FIRST


def _page(raw: str | None) -> int:
    text = (raw or "").strip()
    if text and text.isascii() and text.isdigit():
        return max(1, min(int(text), 1_000_000))
    return 1


def parse_filters(params: Mapping[str, str]) -> tuple[JobFilters, dict[str, str]]:
    """The filters a query string asks for, and a message per field it got wrong.

    A bad ``sort`` falls back to newest first (its message says so); the other
    fields' errors leave the table empty until they are fixed.
    """
    errors: dict[str, str] = {}
    filters = JobFilters(
        status=_choice(JobStatus, params.get("status"), "status", errors),
        domain=_domain(params.get("domain"), errors),
        job_type=_choice(JobType, params.get("job_type"), "job_type", errors),
        failure_pattern=_choice(
            FailurePattern, params.get("failure_pattern"), "failure_pattern", errors
        ),
        page=_page(params.get("page")),
        search=_search(params.get("search"), errors),
        sort=_sort(params.get("sort"), errors),
    )
    return filters, errors


# -- rows, counts, pages -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobRow:
    """One line of the jobs table."""

    id: str
    domain: str
    job_type: str
    status: str
    priority: int
    retries: str
    failure_pattern: str
    error_short: str
    error: str
    updated_iso: str
    updated: str
    next_run: str
    next_run_iso: str | None
    created_iso: str = ""
    created: str = ""


def job_row(job: Job, now: datetime) -> JobRow:
    error = last_error(job) or ""
    upcoming = job.status is JobStatus.PENDING
    return JobRow(
        id=job.id,
        domain=job.domain,
        job_type=job.job_type.value,
        status=job.status.value,
        priority=job.priority,
        retries=retries_label(job),
        failure_pattern=job.failure_pattern or "",
        error_short=shorten(error),
        error=error,
        updated_iso=timestamp(job.updated_at),
        updated=relative(job.updated_at, now),
        next_run=next_run(job, now),
        next_run_iso=timestamp(job.scheduled_at) if upcoming else None,
        created_iso=timestamp(job.created_at),
        created=relative(job.created_at, now),
    )


@dataclass(frozen=True, slots=True)
class StatusCount:
    """One entry of the counts by status, a link to that status with the other filters kept."""

    label: str
    count: int
    query: str
    current: bool


def status_counts(counts: Mapping[JobStatus, int], filters: JobFilters) -> list[StatusCount]:
    """ "All" then each status, in the order of a job's life."""
    total = sum(counts.values())
    entries = [StatusCount("all", total, filters.query(status=None), filters.status is None)]
    for status in JobStatus:
        entries.append(
            StatusCount(
                status.value,
                counts.get(status, 0),
                filters.query(status=status),
                filters.status is status,
            )
        )
    return entries


@dataclass(frozen=True, slots=True)
class Pagination:
    page: int
    pages: int
    total: int
    first: int
    last: int
    previous_query: str | None
    next_query: str | None
    first_query: str | None = None
    """Page 1, when this is not it."""
    last_query: str | None = None
    """The last page, when this is not it."""
    kept: tuple[tuple[str, str], ...] = ()
    """The filters and sort a jump to another page keeps (hidden fields of its form)."""


def last_page(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, math.ceil(total / size))


def paginate(total: int, filters: JobFilters, size: int = PAGE_SIZE) -> Pagination:
    """Where ``filters.page`` sits among ``total`` jobs, with links to its neighbours and ends."""
    pages = last_page(total, size)
    page = min(filters.page, pages)
    first = (page - 1) * size + 1 if total else 0
    return Pagination(
        page=page,
        pages=pages,
        total=total,
        first=first,
        last=min(page * size, total),
        previous_query=filters.query(page=page - 1) if page > 1 else None,
        next_query=filters.query(page=page + 1) if page < pages else None,
        first_query=filters.query(page=1) if page > 1 else None,
        last_query=filters.query(page=pages) if page < pages else None,
        kept=tuple(filters.params(page=1).items()),
    )


# -- retrying the failed jobs of the filter --------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryOffer:
    """The jobs page's "Retry n failed jobs" button for the failed jobs of its filter."""

    failed: int
    retryable: int
    """Of them, under their retry limit: what a retry will schedule (the button's count)."""
    label: str
    breakdown: str
    query: str
    """The confirm page's query string: the filters and search, no status, sort or page."""


def scope_terms(filters: JobFilters) -> list[tuple[str, str]]:
    """The filters as (what, value) pairs a page names: ``("domain", "example.com")``."""
    terms = [
        ("domain", filters.domain),
        ("job type", filters.job_type),
        ("failure pattern", filters.failure_pattern),
        ("search", filters.search),
    ]
    return [(label, str(value)) for label, value in terms if value]


def retry_offer(failed: int, retryable: int, filters: JobFilters) -> RetryOffer | None:
    """The offer when the filter has failed jobs (whatever ``status`` it shows), else None."""
    if not failed or filters.status not in (None, JobStatus.FAILED):
        return None
    query = urlencode(filters.params(status=None, page=1, sort=NEWEST_FIRST))
    return RetryOffer(
        failed,
        retryable,
        retry_button_label(retryable),
        retry_breakdown(retryable, failed - retryable),
        query,
    )
