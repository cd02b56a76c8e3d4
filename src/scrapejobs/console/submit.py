"""``scrapejobs submit DOMAIN``: create a job from options; ``--wait`` follows it to its end.

Every job field is an option. Values are checked by the server, so the
rules live in one place: an out-of-range value is the server's 400 (exit 1,
with the field and the reason), not a second copy of the rules here. Options
left out are not sent, and the server's defaults apply.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from scrapejobs.client import Client
from scrapejobs.console.common import (
    DEFAULT_SERVER,
    EXIT_FAILED,
    ApiKey,
    AsJson,
    Server,
    connected,
    print_json,
    say,
    stdout,
)
from scrapejobs.console.views import tries
from scrapejobs.console.watch import watch
from scrapejobs.jobs import JobType

__all__ = ["submit"]

EXIT_INTERRUPTED = 130
JOB = "Job"
CRAWL = "Crawl config"


def _option(*names: str, panel: str = CRAWL, **kwargs: Any) -> Any:
    return typer.Option(*names, rich_help_panel=panel, **kwargs)


def submit(
    domain: Annotated[
        str, typer.Argument(help="example.com, example.com:8080, or an origin http://host:port")
    ],
    job_type: Annotated[JobType | None, _option("--job-type", panel=JOB)] = None,
    priority: Annotated[
        int | None, _option("--priority", panel=JOB, help="1..10, higher runs first, default 5")
    ] = None,
    max_retries: Annotated[
        int | None,
        _option(
            "--max-retries", panel=JOB, help="0..10 retries after the first attempt, default 3"
        ),
    ] = None,
    metadata: Annotated[
        str | None, _option("--metadata", panel=JOB, help="A JSON object kept with the job.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        _option("--idempotency-key", panel=JOB, help="Submitting twice with it makes one job."),
    ] = None,
    depth: Annotated[int | None, _option("--depth", help="Link depth, 0..20, default 3")] = None,
    max_pages: Annotated[int | None, _option("--max-pages", help="1..100000, default 100")] = None,
    timeout: Annotated[
        int | None, _option("--timeout", help="Per request, ms, 100..120000, default 30000")
    ] = None,
    delay: Annotated[int | None, _option("--delay", help="Between requests, ms, default 0")] = None,
    max_duration: Annotated[
        int | None,
        _option("--max-duration", help="Per attempt, ms: stop there and keep the pages. No limit."),
    ] = None,
    max_page_bytes: Annotated[
        int | None, _option("--max-page-bytes", help="Read and parse at most this, default 10 MiB")
    ] = None,
    max_concurrent_requests: Annotated[
        int | None, _option("--max-concurrent-requests", help="1..64, default 8")
    ] = None,
    user_agent: Annotated[str | None, _option("--user-agent")] = None,
    start_url: Annotated[
        str | None, _option("--start-url", help="Where to start instead of the domain's /.")
    ] = None,
    respect_robots: Annotated[
        bool | None,
        _option("--respect-robots/--no-respect-robots", help="Obey robots.txt, default yes."),
    ] = None,
    respect_retry_after: Annotated[
        bool | None,
        _option(
            "--respect-retry-after/--no-respect-retry-after",
            help="Wait as long as a 429/503 Retry-After says, default yes.",
        ),
    ] = None,
    auto_retry: Annotated[
        bool | None,
        _option(
            "--auto-retry/--no-auto-retry", help="Retry retryable failures by itself, default on"
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Show live progress until the job ends.")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", min=0.05, help="Seconds between polls of --wait.")
    ] = 0.5,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Create a scrape job; with --wait, follow it until it completes, fails or is cancelled.

    Exit code with --wait: 0 completed, 1 failed or cancelled.
    """
    config = _given(
        depth=depth,
        maxPages=max_pages,
        timeout=timeout,
        delay=delay,
        maxDuration=max_duration,
        maxPageBytes=max_page_bytes,
        maxConcurrentRequests=max_concurrent_requests,
        userAgent=user_agent,
        startUrl=start_url,
        respectRobots=respect_robots,
        respectRetryAfter=respect_retry_after,
        autoRetry=auto_retry,
    )
    with connected(server, api_key) as client:
        job = client.create_job(
            domain,
            job_type=job_type.value if job_type else None,
            priority=priority,
            max_retries=max_retries,
            config=config or None,
            metadata=_metadata(metadata),
            idempotency_key=idempotency_key,
        )
        if not wait:
            _created(job, as_json)
            return
        final = _follow(client, job, as_json=as_json, poll_interval=poll_interval)
    if final["status"] != "completed":
        raise typer.Exit(EXIT_FAILED)


def _given(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _metadata(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not JSON ({exc})", param_hint="--metadata") from exc
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object", param_hint="--metadata")
    return value


def _created(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(job)
        return
    console = stdout()
    say(
        console,
        f"Job {job['id']} {job['status']}: {job['domain']} ({job['job_type']}), "
        f"priority {job['priority']}, retries {tries(job)}",
    )
    say(console, f"Follow it: scrapejobs show {job['id']}")


def _follow(
    client: Client, job: dict[str, Any], *, as_json: bool, poll_interval: float
) -> dict[str, Any]:
    """Wait for the job's end; Ctrl-C stops watching, not the job."""
    try:
        if as_json:
            final = client.wait_for(job["id"], poll_interval=poll_interval)
            print_json(final)
            return final
        console = stdout()
        say(console, f"Job {job['id']} submitted: {job['domain']}")
        return watch(client, job["id"], console, poll_interval=poll_interval)
    except KeyboardInterrupt:
        typer.echo(
            f"stopped watching; job {job['id']} goes on (scrapejobs show {job['id']})", err=True
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
