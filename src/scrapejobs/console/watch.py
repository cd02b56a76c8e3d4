"""``submit --wait``: follow a job to its end, then sum it up.

On a terminal a Rich ``Live`` panel redraws at every poll: status (with a
spinner while it is not over), pages crawled, the attempt, when the next
retry is due, the last error. When stdout is not a terminal (a log, a CI
job) a line is printed at each change of status or attempt instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from scrapejobs.client import FINAL_STATUSES, Client
from scrapejobs.console.views import cell, last_error, moment, status_text, tries
from scrapejobs.events import retry_label

__all__ = [
    "ChangePrinter",
    "next_retry",
    "pages",
    "progress_view",
    "summary",
    "watch",
]

Job = Mapping[str, Any]


def watch(client: Client, job_id: str, console: Console, *, poll_interval: float) -> dict[str, Any]:
    """Poll the job until it is over, showing progress; return it as it ended."""
    if console.is_terminal:
        with Live(console=console, refresh_per_second=8, transient=True) as live:
            final = client.wait_for(
                job_id,
                poll_interval=poll_interval,
                on_update=lambda job: live.update(progress_view(job, _now())),
            )
    else:
        final = client.wait_for(
            job_id, poll_interval=poll_interval, on_update=ChangePrinter(console)
        )
    console.print(summary(final), soft_wrap=True)
    return final


def _now() -> datetime:
    return datetime.now(UTC)


def pages(job: Job) -> str:
    count = job.get("pages_crawled", 0)
    return f"{count} page" if count == 1 else f"{count} pages"


def attempt_label(job: Job) -> str:
    """The attempt under way (or last made), counted as the seed's retry message counts:
    ``retries 1/3`` is retry 1 of the 3 allowed, ``retries 0/3`` the original attempt."""
    return f"retries {tries(job)}"


def next_retry(job: Job, now: datetime) -> str | None:
    """When a retried job is due, e.g. ``2024-01-01 10:00:05Z (in 4 s)``; None otherwise."""
    if job.get("status") != "pending" or not job.get("retry_count") or not job.get("scheduled_at"):
        return None
    due = datetime.fromisoformat(str(job["scheduled_at"]).replace("Z", "+00:00"))
    seconds = (due - now).total_seconds()
    when = f"in {seconds:.0f} s" if seconds >= 1 else "due now"
    return f"{moment(job['scheduled_at'])} ({when})"


def progress_view(job: Job, now: datetime) -> RenderableType:
    """The live panel of one job."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    status: RenderableType = status_text(job["status"])
    if job["status"] not in FINAL_STATUSES:
        status = Spinner("dots", text=status_text(job["status"]))
    grid.add_row("Job", Text(f"{job['id']}  {job.get('domain')}"))
    grid.add_row("Status", status)
    limit = (job.get("config") or {}).get("maxPages")
    pages = f"{job.get('pages_crawled', 0)}" + (f" (of at most {limit})" if limit else "")
    grid.add_row("Pages crawled", Text(pages))
    grid.add_row("Attempt", f"{retry_label(job.get('retry_count', 0))}, {attempt_label(job)}")
    grid.add_row("Next retry", cell(next_retry(job, now)))
    grid.add_row("Last error", cell(last_error(job)))
    return Group(grid)


class ChangePrinter:
    """For logs: one line per change of status or attempt."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.seen: tuple[Any, ...] | None = None

    def __call__(self, job: Job) -> None:
        state = (job.get("status"), job.get("retry_count"))
        if state == self.seen:
            return
        self.seen = state
        clock = _now().strftime("%H:%M:%S")
        line = f"{clock} {job['id']} {job['status']} {attempt_label(job)}"
        line += f", {pages(job)}"
        due = next_retry(job, _now())
        if due:
            line += f", next retry {due}, last error: {last_error(job)}"
        self.console.print(Text(line), soft_wrap=True)


def summary(job: Job) -> RenderableType:
    """How the job ended, in a few lines."""
    status = job["status"]
    head = Text.assemble("Job ", job["id"], " ", status_text(status))
    if status == "completed":
        head.append(f": {pages(job)} crawled, {attempt_label(job)}")
        attempts = job.get("attempts") or []
        note = attempts[-1].get("note") if attempts else None
        return Group(head, Text(f"  note: {note}")) if note else head
    if status == "cancelled":
        return head
    return Group(head, *_failure_lines(job))


def _failure_lines(job: Job) -> list[Text]:
    metadata = job.get("metadata") or {}
    lines = [Text(f"  error: {last_error(job)}")]
    kind = [
        f"{key} {metadata[key]}"
        for key in ("errorType", "failurePattern", "httpStatus")
        if metadata.get(key) is not None
    ]
    if kind:
        lines.append(Text("  " + ", ".join(kind)))
    lines.append(Text(f"  {attempt_label(job)}"))
    if metadata.get("noRetryReason"):
        lines.append(Text(f"  not retried automatically: {metadata['noRetryReason']}"))
    if metadata.get("failurePattern") == "configuration":
        lines.append(Text("  a retry fails the same way until the configuration changes"))
    elif job.get("retry_count", 0) < job.get("max_retries", 0):
        lines.append(Text(f"  retry it with: scrapejobs retry {job['id']}"))
    return lines
