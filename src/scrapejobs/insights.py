"""Insights: reading over all jobs at once: retry analytics, the shared counts
behind ``/metrics``, and the dashboard's activity.

``JobManager.insights`` is one; it shares the job manager's store and clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from scrapejobs.errors import InvalidRequest
from scrapejobs.jobs import InvalidDomain, JobType, normalize_domain, timestamp
from scrapejobs.queries import JobFilter
from scrapejobs.site_manager import SiteManager
from scrapejobs.stats import FailureTally, stats_report
from scrapejobs.store import Store

__all__ = ["Insights"]


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


def _domain(value: str) -> str:
    try:
        return normalize_domain(value)
    except InvalidDomain as exc:
        raise InvalidRequest("Invalid domain", str(exc)) from exc
