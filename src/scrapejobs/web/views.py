"""The dashboard's view models: formatting, and the jobs table from a query string.

Pure: no I/O and no clock. The routes in ``dashboard.py`` read through the
JobManager, pass ``now`` in, and hand the results to the templates; the
shaping (``retries 1/3``, shortened errors, times, filters kept in query
strings, pages) happens here and in ``job_view.py`` (one job) and
``forms.py`` (the submit and bulk-retry forms), where unit tests reach it
with plain values.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from scrapejobs.failures import FailurePattern
from scrapejobs.jobs import (
    InvalidDomain,
    Job,
    JobStatus,
    JobType,
    normalize_domain,
    timestamp,
)

__all__ = [
    "ERROR_PREVIEW",
    "PAGE_SIZE",
    "JobFilters",
    "JobRow",
    "Pagination",
    "StatusCount",
    "display_value",
    "duration",
    "is_cross_site",
    "job_row",
    "last_error",
    "last_page",
    "next_run",
    "paginate",
    "parse_filters",
    "parse_timestamp",
    "relative",
    "retries_label",
    "safe_href",
    "shorten",
    "status_counts",
    "when",
]

PAGE_SIZE = 25
"""Jobs per page of the jobs table."""
ERROR_PREVIEW = 80
"""Characters of an error message the jobs table shows; the job page shows all."""

# -- formatting --------------------------------------------------------------


def shorten(text: str | None, limit: int = ERROR_PREVIEW) -> str:
    """One line of at most ``limit`` characters, an ellipsis marking a cut.

    >>> shorten("Connection   refused\\nby peer", 16)
    'Connection refu…'
    """
    if not text:
        return ""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + "…"


def retries_label(job: Job) -> str:
    """``retry_count/max_retries``, as the seed's button counts them."""
    return f"{job.retry_count}/{job.max_retries}"


def when(moment: datetime | None) -> str:
    """A timestamp a person reads: ``2024-01-01 12:00:05 UTC`` (the API's, shortened)."""
    if moment is None:
        return ""
    return timestamp(moment)[:19].replace("T", " ") + " UTC"


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def parse_timestamp(value: object) -> datetime | None:
    """A stored ``2024-01-01T12:00:00.000Z`` back to a moment; None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def relative(moment: datetime, now: datetime) -> str:
    """``in 4 min``, ``12 s ago`` or ``now``."""
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 1:
        return "now"
    span = _span(abs(seconds))
    return f"in {span}" if seconds > 0 else f"{span} ago"


def duration(start: datetime, end: datetime | None) -> str:
    """How long an attempt ran: ``850 ms``, ``4.2 s``, ``3 min 5 s``, ``2 h 10 min``."""
    if end is None:
        return ""
    seconds = max((end - start).total_seconds(), 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def next_run(job: Job, now: datetime) -> str:
    """When the job runs next: ``due now``, ``in 48 s``, ``running now``, or ``""`` (never)."""
    if job.status is JobStatus.RUNNING:
        return "running now"
    if job.status is not JobStatus.PENDING:
        return ""
    if job.scheduled_at <= now:
        return "due now"
    return relative(job.scheduled_at, now)


def last_error(job: Job) -> str | None:
    """The failed attempt's message, or the one the job's retry answers (``lastError``)."""
    if job.error_message:
        return job.error_message
    return job.failure.message if job.failure else None


def safe_href(url: object) -> str | None:
    """``url`` if it is an http(s) URL a link may point to, else None (shown as text only).

    Crawled URLs come from other people's sites: ``javascript:`` and
    ``data:`` must never become a link.
    """
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def display_value(value: Any) -> str:
    """A config or metadata value as text: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# -- the jobs table ----------------------------------------------------------

E = TypeVar("E", bound=enum.StrEnum)


@dataclass(frozen=True, slots=True)
class JobFilters:
    """The jobs page's filters and page, as they travel in the query string."""

    status: JobStatus | None = None
    domain: str | None = None
    job_type: JobType | None = None
    failure_pattern: FailurePattern | None = None
    page: int = 1

    def params(self, **changes: Any) -> dict[str, str]:
        """The non-empty query parameters, with ``changes`` applied (page 1 is left out)."""
        values: dict[str, Any] = {
            "status": self.status,
            "domain": self.domain,
            "job_type": self.job_type,
            "failure_pattern": self.failure_pattern,
            "page": self.page,
            **changes,
        }
        return {
            name: str(value)
            for name, value in values.items()
            if value not in (None, "") and not (name == "page" and value == 1)
        }

    def query(self, **changes: Any) -> str:
        """``status=failed&domain=example.com``; changing a filter resets the page."""
        if any(name != "page" for name in changes):
            changes.setdefault("page", 1)
        return urlencode(self.params(**changes))

    @property
    def bulk_query(self) -> str | None:
        """The bulk-retry page for these filters, when they name a domain or a pattern."""
        if self.domain is None and self.failure_pattern is None:
            return None
        return urlencode(
            {"domain": self.domain or "", "failurePattern": self.failure_pattern or ""}
        )


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


def _page(raw: str | None) -> int:
    if raw and raw.isascii() and raw.isdigit():
        return max(1, min(int(raw), 1_000_000))
    return 1


def parse_filters(params: Mapping[str, str]) -> tuple[JobFilters, dict[str, str]]:
    """The filters a query string asks for, and a message per field it got wrong."""
    errors: dict[str, str] = {}
    filters = JobFilters(
        status=_choice(JobStatus, params.get("status"), "status", errors),
        domain=_domain(params.get("domain"), errors),
        job_type=_choice(JobType, params.get("job_type"), "job_type", errors),
        failure_pattern=_choice(
            FailurePattern, params.get("failure_pattern"), "failure_pattern", errors
        ),
        page=_page(params.get("page")),
    )
    return filters, errors


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


def last_page(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, math.ceil(total / size))


def paginate(total: int, filters: JobFilters, size: int = PAGE_SIZE) -> Pagination:
    """Where ``filters.page`` sits among ``total`` jobs, with links to its neighbours."""
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
    )


# -- requests ----------------------------------------------------------------


def is_cross_site(origin: str | None, host: str | None, fetch_site: str | None) -> bool:
    """True when a state-changing request comes from another site (a forged form post).

    Browsers send ``Sec-Fetch-Site`` and ``Origin`` with a POST; clients that
    send neither (curl, scripts) are not browsers and cannot be forged into
    acting for someone.
    """
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    if origin is None:
        return False
    if origin == "null":
        return True
    return urlsplit(origin).netloc.lower() != (host or "").lower()
