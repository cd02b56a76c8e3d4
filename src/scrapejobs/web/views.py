"""The dashboard's formatting, shared by every page.

Pure: no I/O and no clock. The routes in ``dashboard.py`` read through the
JobManager, pass ``now`` in, and hand the results to the templates; the
shaping (``retries 1/3``, shortened errors, times, safe links) happens here,
the jobs table (filters, search, sort and pages in the query string) in
``jobs_table.py``, one job in ``job_view.py`` and the submit and bulk-retry
forms in ``forms.py``, where unit tests reach it with plain values.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from scrapejobs.jobs import (
    Job,
    JobStatus,
    timestamp,
)

__all__ = [
    "ERROR_PREVIEW",
    "display_value",
    "duration",
    "is_cross_site",
    "last_error",
    "next_run",
    "parse_timestamp",
    "relative",
    "retries_label",
    "safe_href",
    "shorten",
    "when",
]

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
