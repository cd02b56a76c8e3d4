"""``jobs``, ``show``, ``retry``, ``cancel``, ``stats``, ``results``: thin adapters.

Each parses its options, makes one :class:`~scrapejobs.client.Client` call
and hands the answer to a view (or, with ``--json``, prints the API's
``data`` as it came).
"""

from __future__ import annotations

import enum
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from scrapejobs.console.common import (
    DEFAULT_SERVER,
    ApiKey,
    AsJson,
    Server,
    connected,
    print_json,
    say,
    stdout,
)
from scrapejobs.console.export import FORMATS, destination
from scrapejobs.console.report import stats_report
from scrapejobs.console.views import bulk_table, job_view, jobs_footer, jobs_table, moment
from scrapejobs.failures import FailurePattern
from scrapejobs.jobs import JobStatus, JobType, timestamp
from scrapejobs.retention import parse_duration

__all__ = ["cancel", "jobs", "prune", "results", "retry", "show", "since_timestamp", "stats"]

JobId = Annotated[
    str, typer.Argument(metavar="JOB_ID", help="The job's id (a UUID).", show_default=False)
]
Pattern = Annotated[
    FailurePattern | None, typer.Option("--pattern", help="Failure pattern of the last failure.")
]


def jobs(
    status: Annotated[JobStatus | None, typer.Option("--status")] = None,
    domain: Annotated[str | None, typer.Option("--domain")] = None,
    job_type: Annotated[JobType | None, typer.Option("--job-type")] = None,
    pattern: Pattern = None,
    search: Annotated[
        str | None, typer.Option("--search", help="A job id (or its start), or URL text.")
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort", help="created, updated, priority, retries, domain, status; -KEY: descending"
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="1..200, default 50")] = None,
    offset: Annotated[
        int | None, typer.Option("--offset", help="Skip this many, default 0")
    ] = None,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """List jobs, newest first (or as --sort says)."""
    with connected(server, api_key) as client:
        page = client.list_jobs(
            status=status.value if status else None,
            domain=domain,
            job_type=job_type.value if job_type else None,
            failure_pattern=pattern.value if pattern else None,
            search=search,
            sort=sort,
            limit=limit,
            offset=offset,
        )
    if as_json:
        print_json(page.jobs)
        return
    console = stdout()
    if page.jobs:
        console.print(jobs_table(page.jobs, width=console.width))
    say(console, jobs_footer(page, sort))


def show(
    job_id: JobId, server: Server = DEFAULT_SERVER, api_key: ApiKey = None, as_json: AsJson = False
) -> None:
    """One job: its fields, config, metadata and attempt history."""
    with connected(server, api_key) as client:
        job = client.get_job(job_id)
    if as_json:
        print_json(job)
    else:
        console = stdout()
        console.print(job_view(job, width=console.width))


RETRY_HINT = "'JOB_ID' / '--domain' / '--pattern' / '--error-contains' / '--limit'"


def retry(
    job_id: Annotated[
        str | None,
        typer.Argument(metavar="JOB_ID", help="Retry this failed job.", show_default=False),
    ] = None,
    domain: Annotated[str | None, typer.Option("--domain", help="Bulk: jobs of a domain.")] = None,
    pattern: Pattern = None,
    error_contains: Annotated[
        str | None, typer.Option("--error-contains", help="Bulk: error message contains this.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Bulk: at most this many, default 100")
    ] = None,
    delay_seconds: Annotated[
        float | None,
        typer.Option("--delay-seconds", help="Run the retry this much later, default 0"),
    ] = None,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Retry a failed job by id, or (bulk) the failed jobs that match --domain/--pattern.

    A single retry that the server refuses exits 1 with its reason. A bulk
    retry prints one result per job and exits 0 even when some were refused.
    """
    bulk = domain is not None or pattern is not None or error_contains is not None
    if job_id is not None and (bulk or limit is not None):
        raise typer.BadParameter("give a job ID or bulk filters, not both", param_hint=RETRY_HINT)
    if job_id is None and not bulk:
        raise typer.BadParameter(
            "give a job ID, or filters for a bulk retry", param_hint=RETRY_HINT
        )
    with connected(server, api_key) as client:
        if job_id is not None:
            _print_retried(client.retry_job(job_id, delay_seconds=delay_seconds), as_json)
            return
        results = client.bulk_retry(
            domain=domain,
            failure_pattern=pattern.value if pattern else None,
            error_contains=error_contains,
            limit=limit,
            delay_seconds=delay_seconds,
        )
    if as_json:
        print_json(results)
    else:
        _bulk_report(results)


def _print_retried(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(job)
        return
    message = f"Job scheduled for retry (attempt {job['retry_count']}/{job['max_retries']})"
    say(stdout(), f"{message}: {job['id']} due {moment(job['scheduled_at'])}")


def _bulk_report(results: list[dict[str, Any]]) -> None:
    console = stdout()
    if not results:
        say(console, "No failed jobs match.")
        return
    console.print(bulk_table(results))
    retried = sum(1 for result in results if result.get("success"))
    say(console, f"Retried {retried} of {len(results)} matching failed jobs.")


def cancel(
    job_id: JobId, server: Server = DEFAULT_SERVER, api_key: ApiKey = None, as_json: AsJson = False
) -> None:
    """Cancel a pending or running job."""
    with connected(server, api_key) as client:
        job = client.cancel_job(job_id)
    if as_json:
        print_json(job)
    else:
        say(stdout(), f"Job {job['id']} {job['status']}")


class Ended(enum.StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Unchanged for this long: 30d, 12h, 2w...")
    ],
    status: Annotated[
        list[Ended] | None, typer.Option("--status", help="Only these (repeatable); default all.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count them; delete nothing.")] = False,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Delete ended jobs (completed, failed, cancelled) with their pages and events."""
    with connected(server, api_key) as client:
        data = client.prune(older_than, statuses=[s.value for s in status or ()], dry_run=dry_run)
    if as_json:
        print_json(data)
        return
    done = "would be deleted" if dry_run else "deleted"
    which = ", ".join(data["statuses"])
    say(stdout(), f"{data['matched']} jobs ({which}) unchanged since {data['before']} {done}.")


def since_timestamp(text: str | None, now: datetime) -> str | None:
    """``24h``, ``7d``, ``30m``, ``2w`` -> the UTC timestamp that long before ``now``.

    Anything else (an ISO 8601 time) is passed to the server as it is.
    """
    if text is None:
        return None
    age = parse_duration(text)
    return text if age is None else timestamp(now - age)


def stats(
    domain: Annotated[str | None, typer.Option("--domain")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Jobs created since: 24h, 7d... or an ISO 8601 time."),
    ] = None,
    job_type: Annotated[JobType | None, typer.Option("--job-type")] = None,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Retry metrics, failure analysis and recommendations."""
    with connected(server, api_key) as client:
        data = client.stats(
            domain=domain,
            since=since_timestamp(since, datetime.now(UTC)),
            job_type=job_type.value if job_type else None,
        )
    if as_json:
        print_json(data)
    else:
        stdout().print(stats_report(data))


class ExportFormat(enum.StrEnum):
    JSONL = "jsonl"
    CSV = "csv"
    JSON = "json"


def results(
    job_id: JobId,
    export_format: Annotated[
        ExportFormat | None, typer.Option("--format", help="jsonl (default), csv or json.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Export the pages of the job's latest attempt, streamed (--json: a JSON array)."""
    if as_json and export_format not in (None, ExportFormat.JSON):
        raise typer.BadParameter("--json means --format json", param_hint="'--format'")
    chosen = ExportFormat.JSON if as_json else export_format or ExportFormat.JSONL
    try:
        with connected(server, api_key) as client, destination(output) as out:
            count = FORMATS[chosen.value](client.iter_results(job_id), out)
    except BrokenPipeError:  # a reader such as `head` left early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    if output is not None:
        typer.echo(f"wrote {count} page{'' if count == 1 else 's'} to {output}", err=True)
