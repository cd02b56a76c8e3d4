"""Rich renderings of jobs for people: the jobs table, one job in full, bulk retry results.

Values from the server are wrapped in :class:`~rich.text.Text`, never parsed
as Rich markup, so a ``[`` in an error message prints as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from scrapejobs.client import JobList
from scrapejobs.events import retry_label

__all__ = [
    "STATUS_STYLES",
    "attempts_table",
    "bulk_table",
    "cell",
    "job_view",
    "jobs_footer",
    "jobs_table",
    "last_error",
    "moment",
    "shorten",
    "status_text",
    "took",
    "tries",
]

Job = Mapping[str, Any]

ERROR_CHARS = 60
MEDIUM = 100
WIDE = 140
"""Terminal widths from which tables show their optional columns."""

STATUS_STYLES = {
    "pending": "yellow",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def cell(value: Any) -> Text:
    """A value as table text: ``-`` for null, JSON for objects, the string otherwise."""
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, (dict, list, bool)):
        return Text(json.dumps(value, ensure_ascii=False))
    return Text(str(value))


def moment(stamp: str | None) -> str:
    """``2024-01-01T10:00:00.000Z`` -> ``2024-01-01 10:00:00Z`` (UTC, to the second)."""
    if not stamp:
        return "-"
    return stamp.replace("T", " ").split(".")[0].rstrip("Z") + "Z"


def tries(job: Job) -> str:
    """Retries used of the retries allowed, e.g. ``1/3``."""
    return f"{job.get('retry_count', 0)}/{job.get('max_retries', 0)}"


def last_error(job: Job) -> str | None:
    """The failure the job is (or was last) dealing with."""
    metadata = job.get("metadata") or {}
    message = job.get("error_message") or metadata.get("lastError")
    return str(message) if message else None


def shorten(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def jobs_table(jobs: Iterable[Job], *, width: int = 80) -> Table:
    """One row per job; a terminal ``width`` of 100 adds the last error, 140 priority and age.

    A domain is never broken (it is copied into ``--domain``): where the
    longest one does not fit beside the rest, each goes on its own line under
    its job's ID; the last error is what wraps.
    """
    jobs = list(jobs)
    wide, with_error = width >= WIDE, width >= MEDIUM
    # ID, status, retries and the paddings; priority and age; room for an error.
    fixed = 36 + 9 + 7 + 10 + (26 if wide else 0) + (24 if with_error else 0)
    longest = max((len(str(job.get("domain") or "")) for job in jobs), default=0)
    narrow = longest > width - fixed
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("ID / Domain" if narrow else "ID", no_wrap=True, min_width=36)
    table.add_column("Status", no_wrap=True)
    table.add_column("Retries", justify="right", no_wrap=True)
    if not narrow:
        table.add_column("Domain", no_wrap=True)
    if wide:
        table.add_column("Prio", justify="right", no_wrap=True)
        table.add_column("Created (UTC)", no_wrap=True)
    if with_error:
        table.add_column("Last error", overflow="fold", min_width=16)
    for job in jobs:
        domain = cell(job.get("domain"))
        row = [Text(job["id"]), status_text(job["status"]), Text(tries(job))]
        if narrow:
            row[0] = Text.assemble(job["id"], "\n", domain)
        else:
            row.append(domain)
        if wide:
            row += [cell(job.get("priority")), Text(moment(job.get("created_at")))]
        if with_error:
            row.append(cell(shorten(last_error(job), ERROR_CHARS)))
        table.add_row(*row)
    return table


def jobs_footer(page: JobList, sort: str | None = None) -> str:
    if not page.jobs:
        return "No jobs match." if page.offset == 0 else f"No jobs after offset {page.offset}."
    last = page.offset + len(page.jobs)
    order = f"sorted by {sort}" if sort else "newest first"
    footer = f"Jobs {page.offset + 1}-{last} of {page.total}, {order}."
    if last < page.total:
        footer += f" Next page: --offset {last}"
    return footer


def job_view(job: Job, *, width: int = 80) -> RenderableType:
    """Everything about one job: its fields, config, metadata and attempt history."""
    parts: list[RenderableType] = [_summary_grid(job)]
    parts += [Text("\nConfig", style="bold"), _mapping_table(job.get("config") or {})]
    parts += [Text("\nMetadata", style="bold"), _mapping_table(job.get("metadata") or {})]
    attempts = job.get("attempts") or []
    parts.append(Text(f"\nAttempts ({len(attempts)})", style="bold"))
    parts.append(
        attempts_table(attempts, width=width) if attempts else Text("none yet", style="dim")
    )
    return Group(*parts)


def _summary_grid(job: Job) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    rows: list[tuple[str, Text | str]] = [
        ("ID", Text(job["id"])),
        ("Domain", cell(job.get("domain"))),
        ("Type", cell(job.get("job_type"))),
        ("Status", status_text(job["status"])),
        ("Priority", cell(job.get("priority"))),
        ("Retries", tries(job)),
        ("Pages crawled", cell(job.get("pages_crawled"))),
        ("Error", cell(job.get("error_message"))),
        ("Created", moment(job.get("created_at"))),
        ("Scheduled", moment(job.get("scheduled_at"))),
        ("Started", moment(job.get("started_at"))),
        ("Finished", moment(job.get("completed_at"))),
    ]
    if job.get("worker_id"):
        lease = f"{job['worker_id']} (lease until {moment(job.get('lease_expires_at'))})"
        rows.append(("Worker", Text(lease)))
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _mapping_table(values: Mapping[str, Any]) -> RenderableType:
    if not values:
        return Text("none", style="dim")
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in values.items():
        table.add_row(Text(f"  {key}"), cell(value))
    return table


def attempts_table(attempts: Iterable[Job], *, width: int = 80) -> Table:
    """One row per attempt, oldest first; a wide terminal adds the year and the worker."""
    wide = width >= WIDE
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Attempt", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Started (UTC)", no_wrap=True)
    table.add_column("Took", justify="right", no_wrap=True)
    table.add_column("Failure", overflow="fold")
    table.add_column("Error", overflow="fold", ratio=1)
    if wide:
        table.add_column("Worker", overflow="fold")
    for attempt in attempts:
        outcome = str(attempt.get("outcome") or "-")
        row = [
            Text(retry_label(int(attempt.get("retry_count") or 0))),
            Text(outcome, style=STATUS_STYLES.get(outcome, "")),
            Text(moment(attempt.get("started_at"))[0 if wide else 5 :]),
            Text(took(attempt.get("started_at"), attempt.get("finished_at"))),
            Text(_failure(attempt)),
            cell(attempt.get("error_message") or attempt.get("note")),
        ]
        if wide:
            row.append(cell(attempt.get("workerId")))
        table.add_row(*row)
    return table


def _failure(attempt: Job) -> str:
    """``not_found``, ``content_missing``, ``HTTP 404`` one under the other, or ``-``."""
    parts = [attempt.get("errorType"), attempt.get("failurePattern")]
    if attempt.get("httpStatus") is not None:
        parts.append(f"HTTP {attempt['httpStatus']}")
    return "\n".join(str(part) for part in parts if part) or "-"


def took(start: str | None, end: str | None) -> str:
    """The seconds between two API timestamps, e.g. ``1.2 s``; ``-`` when one is missing."""
    if not start or not end:
        return "-"
    seconds = (_parse(end) - _parse(start)).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def bulk_table(results: Iterable[Job]) -> Table:
    """One row per job of a bulk retry."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Job ID", no_wrap=True, min_width=36)
    table.add_column("Result", no_wrap=True)
    table.add_column("Message", overflow="fold")
    for result in results:
        ok = bool(result.get("success"))
        table.add_row(
            Text(str(result.get("jobId"))),
            Text("retried", style="green") if ok else Text("refused", style="red"),
            cell(result.get("message")),
        )
    return table
