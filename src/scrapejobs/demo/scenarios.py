"""The demo's jobs, what each is expected to become, and what the demo prints about them.

Pure: jobs to create, and text. One job per page of the demo site
(``site.py``), each on a port (a site) of its own, each crawling its page and
the two below it (``depth: 1``). The outcomes are the ones README's "Demo"
section promises and ``tests/e2e/test_demo.py`` checks:

========  =================================================================
shop      completed at the first attempt, 3 pages
flaky     503 -> automatic retry after a backoff -> completed, ``retry_count`` 1
busy      429 with Retry-After -> the site cools down; the job waits for it, no
          retry spent, and goes again with ``maxConcurrentRequests: 1`` and
          ``delay: 2000`` -> completed, ``retry_count`` 0
slow      timed out at 2000 ms -> automatic retry with ``timeout: 3000`` ->
          completed, ``retry_count`` 1
gone      404 -> failed, ``content_missing``, not retried (permanent)
private   robots.txt disallows it -> failed, ``configuration``, not retried, the
          page never requested (permanent)
========  =================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scrapejobs.demo.site import RETRY_AFTER_SECONDS, SLOW_SECONDS
from scrapejobs.jobs import Job, JobStatus
from scrapejobs.schemas import JobConfig, JobCreate

__all__ = ["SCENARIOS", "Scenario", "config_changes", "guide", "job_request", "progress"]

SLOW_TIMEOUT_MS = 2000
"""The slow job's first timeout: under SLOW_SECONDS; its retry's (x 1.5) is over."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    path: str
    behaviour: str
    """What the page does."""
    outcome: str
    """What the job becomes."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """Config beyond the demo's ``depth: 1, maxPages: 10``."""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("shop", "/shop/", "works", "completed at the first attempt, 3 pages, retry_count 0"),
    Scenario(
        "flaky",
        "/flaky/",
        "answers 503 to a first attempt",
        "retried automatically after a backoff: completed, retry_count 1",
    ),
    Scenario(
        "busy",
        "/busy/",
        f"answers 429 with Retry-After: {RETRY_AFTER_SECONDS} to a first attempt",
        "its site cools down, the job waits (no retry spent), then one "
        "connection, 2 s delay: completed, retry_count 0",
    ),
    Scenario(
        "slow",
        "/slow/",
        f"takes {SLOW_SECONDS} s, the job's timeout is {SLOW_TIMEOUT_MS} ms",
        f"timed out, retried with a {SLOW_TIMEOUT_MS * 3 // 2} ms timeout: "
        "completed, retry_count 1",
        {"timeout": SLOW_TIMEOUT_MS},
    ),
    Scenario(
        "gone",
        "/gone/",
        "answers 404",
        "failed, content_missing: permanent, not retried",
    ),
    Scenario(
        "private",
        "/private/",
        "is disallowed by robots.txt",
        "failed, configuration: permanent, not retried, the page never requested",
    ),
)


def job_request(scenario: Scenario, origin: str) -> JobCreate:
    """The job for ``scenario`` on the demo site at ``origin``."""
    config = JobConfig(
        startUrl=origin + scenario.path, depth=1, maxPages=10, **dict(scenario.config)
    )
    return JobCreate(domain=origin, config=config, metadata={"demo": scenario.name})


def config_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """``"timeout 2000 -> 3000"``: what retries changed in a job's config."""
    changed = [
        f"{key} {before.get(key)} -> {value}"
        for key, value in after.items()
        if before.get(key) != value
    ]
    return ", ".join(changed)


def progress(job: Job, first_config: Mapping[str, Any], now: datetime) -> str:
    """One line on where ``job`` stands, for the demo's terminal."""
    failure = job.failure
    failed_with = f"{failure.error_type.value} ({failure.message})" if failure else ""
    if job.status is JobStatus.RUNNING:
        return f"running, attempt {job.attempts}"
    if job.status is JobStatus.PENDING and failure is not None:
        wait = max(0.0, (job.scheduled_at - now).total_seconds())
        if job.site_waits:
            line = f"{failed_with}: its site cools down; again in {wait:.1f} s, no retry spent"
        else:
            line = f"{failed_with}: retry {job.retry_count}/{job.max_retries} in {wait:.1f} s"
        changes = config_changes(first_config, job.config)
        return line + (f", with {changes}" if changes else "")
    if job.status is JobStatus.COMPLETED:
        return f"completed at attempt {job.attempts}, retry_count {job.retry_count}"
    if job.status is JobStatus.FAILED:
        pattern = failure.pattern.value if failure else "?"
        return f"failed: {failed_with}, {pattern}; {job.no_retry_reason or 'no retry'}"
    return job.status.value


def guide(base_url: str, database: str, jobs: Sequence[tuple[Scenario, Job]]) -> str:
    """What the demo prints once it runs: where to look, and what to expect."""
    width = max(len(scenario.name) for scenario, _ in jobs)
    expected = "\n".join(
        f"  {scenario.name:<{width}}  {job.config['startUrl']} {scenario.behaviour}:\n"
        f"  {'':<{width}}  -> {scenario.outcome}\n"
        f"  {'':<{width}}     {base_url}/jobs/{job.id}"
        for scenario, job in jobs
    )
    places = [
        ("/", "the jobs, refreshed every 5 s"),
        ("/jobs/<id>", "a job: its attempts, who retried it and why, how its config changed"),
        ("/analytics", "retry rates by failure pattern, and recommendations"),
        ("/domains", "the demo's sites (a port each): the busy one cooling down, limits"),
        ("/docs", "the API"),
    ]
    where = "\n".join(f"  {base_url + path:<{len(base_url) + 10}}  {text}" for path, text in places)
    return f"""
scrapejobs demo: the service, and a local site that misbehaves on purpose.
Its jobs crawl only that site, one port per behaviour; nothing leaves this machine.

  dashboard   {base_url}/
  database    {database} (deleted when the demo stops)

{len(jobs)} jobs submitted. Within a minute:
{expected}

Where to look:
{where}

Progress is printed below. Ctrl-C stops the demo.
"""
