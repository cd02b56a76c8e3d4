"""Insights: reading over all jobs at once: retry analytics, the shared counts
behind ``/metrics``, and the dashboard's activity.

``JobManager.insights`` is one; it shares the job manager's store and clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from scrapejobs.activity import (
    Activity,
    LatencySummary,
    RunningNow,
    Span,
    latency_series,
    throughput_series,
    window,
)
from scrapejobs.errors import InvalidRequest
from scrapejobs.jobs import InvalidDomain, JobStatus, JobType, normalize_domain, timestamp
from scrapejobs.queries import JobFilter
from scrapejobs.site_manager import SiteManager
from scrapejobs.stats import FailureTally, stats_report
from scrapejobs.store import Store

__all__ = ["RUNNING_LIMIT", "Insights"]

RUNNING_LIMIT = 200
"""Running jobs the running-now view lists (the rest are counted)."""


class Insights:
    """Analytics and activity over all jobs; adapters call only these."""

    def __init__(self, store: Store, clock: Callable[[], datetime], sites: SiteManager) -> None:
        self._store = store
        self.clock = clock
        self._sites = sites

    async def stats(
        self,
        *,
        domain: str | None = None,
        since: datetime | None = None,
        job_type: JobType | None = None,
    ) -> dict[str, Any]:
        """Retry analytics over the jobs created since ``since`` (``GET .../stats``)."""
        if domain is not None:
            domain = _domain(domain)
        counts = await self._store.stats_counts(
            JobFilter(domain=domain, job_type=job_type, created_since=since)
        )
        scope = {
            "domain": domain,
            "since": timestamp(since) if since else None,
            "job_type": job_type.value if job_type else None,
        }
        report = stats_report(replace(counts, scope=scope), timestamp(self.clock()))
        return report | {"siteHealth": await self._sites.health()}

    async def shared_counts(self) -> tuple[dict[str, int], FailureTally]:
        """Jobs by status and failures of all jobs: the same on every server (``/metrics``)."""
        return await self._store.shared_counts()

    async def activity(self, span: Span) -> Activity:
        """Throughput and queue latency over ``span`` up to now, bucket by bucket."""
        now = self.clock()
        win = window(span, now)
        counts = await self._store.event_counts(win)
        waits = await self._store.queue_waits(win)
        overall = (await self._store.queue_waits(win.whole())).get(0, LatencySummary())
        return Activity(
            span, win, now, throughput_series(win, counts), latency_series(win, waits), overall
        )

    async def running(self, *, limit: int = RUNNING_LIMIT) -> RunningNow:
        """The running jobs and the pages each one's attempt stored so far."""
        now = self.clock()
        jobs = await self._store.running_jobs(limit=limit)
        total = len(jobs)
        if total >= limit:
            total = await self._store.count_jobs(JobFilter(status=JobStatus.RUNNING))
        pages = await self._store.page_counts({job.id: job.attempts for job in jobs})
        return RunningNow(now, [(job, pages[job.id]) for job in jobs], total)


def _domain(value: str) -> str:
    try:
        return normalize_domain(value)
    except InvalidDomain as exc:
        raise InvalidRequest("Invalid domain", str(exc)) from exc
