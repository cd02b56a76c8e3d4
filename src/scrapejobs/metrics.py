"""Prometheus metrics: what this process observed, and the shared state from the database.

Two kinds, because scrapejobs runs as many processes against one database:

* **Process metrics** (module-level instruments below): what this process's
  workers and HTTP server did - claim latency, crawl durations, pages fetched,
  attempts by outcome and failure, HTTP request durations by route. Each
  process reports its own; Prometheus sums them across instances.
* **Database metrics** (:func:`database_metrics`): jobs by status, sites by
  state, failed attempts and retries by errorType and failurePattern. They describe the
  shared state, so every API server reports the same values; read them from
  one instance (or with ``max``), never ``sum`` them.

``GET /metrics`` on ``scrapejobs serve`` serves both; ``scrapejobs worker
--metrics-port N`` serves a standalone worker's process metrics.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from scrapejobs.jobs import JobStatus
from scrapejobs.sites import SiteStatus
from scrapejobs.stats import FailureTally

__all__ = [
    "CLAIM_LATENCY",
    "CRAWL_DURATION",
    "HTTP_DURATION",
    "PAGES_FETCHED",
    "WORKER_ATTEMPTS",
    "database_metrics",
    "exposition",
]

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)

CLAIM_LATENCY = Histogram(
    "scrapejobs_claim_latency_seconds",
    "Seconds from a job becoming due (scheduled_at) to a worker claiming it.",
    buckets=_SECONDS,
)
CRAWL_DURATION = Histogram(
    "scrapejobs_crawl_duration_seconds",
    "Seconds one attempt's crawl ran, by outcome (completed, failed, cancelled).",
    ["outcome"],
    buckets=_SECONDS,
)
PAGES_FETCHED = Counter(
    "scrapejobs_pages_fetched", "Pages this process's workers fetched and stored."
)
WORKER_ATTEMPTS = Counter(
    "scrapejobs_worker_attempts",
    "Attempts this process's workers finished, by outcome, errorType and failurePattern.",
    ["outcome", "error_type", "failure_pattern"],
)
WORKER_SLOTS = Gauge(
    "scrapejobs_worker_slots",
    "Jobs this process's workers may run at once now (the autoscaled target).",
)
HTTP_DURATION = Histogram(
    "scrapejobs_http_request_duration_seconds",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)


def database_metrics(
    jobs_by_status: Mapping[str, int],
    tally: FailureTally,
    sites_by_state: Mapping[SiteStatus, int] | None = None,
) -> CollectorRegistry:
    """A registry holding one snapshot of the shared state."""
    registry = CollectorRegistry(auto_describe=False)
    jobs = Gauge("scrapejobs_jobs", "Jobs by status.", ["status"], registry=registry)
    for status in JobStatus:
        jobs.labels(status.value).set(jobs_by_status.get(status.value, 0))
    sites = Gauge(
        "scrapejobs_sites",
        "Sites by state (open, cooling_down, circuit_open, paused); one series per state.",
        ["state"],
        registry=registry,
    )
    for state in SiteStatus:
        sites.labels(state.value).set((sites_by_state or {}).get(state, 0))
    for name, help_text, table in (
        ("scrapejobs_attempt_failures", "Failed attempts of all jobs.", tally.failures),
        ("scrapejobs_retries", "Retries of all jobs, by the failure they answered.", tally.retries),
    ):
        gauge = Gauge(
            name,
            help_text + " From the database; a deleted job takes its history with it.",
            ["failure_pattern", "error_type"],
            registry=registry,
        )
        for (pattern, error_type), count in table.items():
            gauge.labels(pattern, error_type).set(count)
    return registry


def exposition(
    jobs_by_status: Mapping[str, int],
    tally: FailureTally,
    sites_by_state: Mapping[SiteStatus, int] | None = None,
) -> bytes:
    """The text format for ``GET /metrics``: process metrics, then database metrics."""
    shared = database_metrics(jobs_by_status, tally, sites_by_state)
    return generate_latest(REGISTRY) + generate_latest(shared)
