"""Jobs as the API shows them: the seed's field names and timestamp format."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from scrapejobs import limits
from scrapejobs.events import Attempt
from scrapejobs.jobs import PAGE_FIELDS, Job, system_facts, timestamp
from scrapejobs.site_manager import SiteView
from scrapejobs.sites import Site, SiteStatus

__all__ = ["attempt_json", "claim_json", "job_json", "page_json", "site_json"]


def _ts(moment: datetime | None) -> str | None:
    return timestamp(moment) if moment is not None else None


def job_json(
    job: Job, attempts: list[Attempt] | None = None, pages_crawled: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": job.id,
        "domain": job.domain,
        "job_type": job.job_type.value,
        "status": job.status.value,
        "priority": job.priority,
        "retry_count": job.retry_count,
        "max_retries": job.max_retries,
        "config": dict(job.config),
        # The user's metadata with the system's facts under the seed's names.
        "metadata": {**job.metadata, **system_facts(job)},
        "error_message": job.error_message,
        "created_at": _ts(job.created_at),
        "updated_at": _ts(job.updated_at),
        "scheduled_at": _ts(job.scheduled_at),
        "started_at": _ts(job.started_at),
        "completed_at": _ts(job.completed_at),
        "worker_id": job.worker_id,
        "lease_expires_at": _ts(job.lease_expires_at),
        "site": job.site,
    }
    if pages_crawled is not None:
        body["pages_crawled"] = pages_crawled
    if attempts is not None:
        body["attempts"] = [attempt_json(attempt) for attempt in attempts]
    return body


def claim_json(job: Job) -> dict[str, Any]:
    """A job as its claimer sees it: with ``leaseToken``, which its heartbeats and its
    report must carry. Only the claim's answer shows it (``scrapejobs.leases``)."""
    return job_json(job) | {"leaseToken": job.lease_token}


def page_json(row: dict[str, Any]) -> dict[str, Any]:
    """A stored page as the results export shows it."""
    page = {name: row[name] for name in PAGE_FIELDS}
    page["fetched_at"] = _ts(row["fetched_at"])
    return page


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    body = asdict(attempt)
    body["started_at"] = _ts(attempt.started_at)
    body["finished_at"] = _ts(attempt.finished_at)
    return body


def site_state_json(site: Site, now: datetime) -> dict[str, Any]:
    """A site's state at ``now``: open, cooling down or circuit open (why, until
    when), or paused; and its circuit breaker."""
    status = site.status(now)
    reasons = {
        SiteStatus.COOLING_DOWN: site.cooldown_reason,
        SiteStatus.CIRCUIT_OPEN: site.breaker_reason,
    }
    return {
        "site": site.site,
        "state": status.value,
        "paused": site.paused,
        "cooldownUntil": _ts(site.cooldown_until) if site.cooling(now) else None,
        "reason": reasons.get(status),
        "circuit": {
            "state": _circuit_state(site, now),
            "failuresInARow": site.failure_streak,
            "openUntil": _ts(site.breaker_until),
            "timesOpened": site.breaker_trips,
            "reason": site.breaker_reason,
            "probeJobId": site.probe_job_id,
        },
        "limits": {
            "maxRequestsPerSecond": site.max_requests_per_second,
            "maxConcurrentRequests": site.max_concurrent_requests,
            "crawlDelay": site.crawl_delay,
            "adaptiveRate": site.adaptive_rate,
            "rateLimit": limits.rate_limit(site),
            "concurrencyLimit": limits.concurrency_limit(site),
        },
        "updatedAt": _ts(site.updated_at),
    }


def _circuit_state(site: Site, now: datetime) -> str:
    if site.breaker_until is None:
        return "closed"
    return "half_open" if site.half_open(now) else "open"


def site_json(view: SiteView) -> dict[str, Any]:
    """A site as ``/api/domains`` shows it: its state (as the view saw it) and its jobs."""
    state = site_state_json(view.site, view.now)
    jobs = {status.value: count for status, count in view.jobs.items()}
    return state | {"jobs": jobs, "workers": view.workers}
