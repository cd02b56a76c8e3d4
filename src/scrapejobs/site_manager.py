"""SiteManager: the use cases of sites (the ``/api/domains`` routes, the fleet's
cooldowns and circuits).

``JobManager.sites`` is one; it shares the job manager's store and clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from scrapejobs import limits
from scrapejobs.errors import InvalidRequest, SiteNotFound
from scrapejobs.failures import Failure
from scrapejobs.jobs import InvalidDomain, JobStatus, normalize_domain
from scrapejobs.sites import Breaker, Site, SiteStatus, cooldown_of, site_of
from scrapejobs.stats import site_health
from scrapejobs.store import Store

__all__ = ["SiteManager", "SiteView", "site_name"]

log = logging.getLogger(__name__)


def site_name(text: str) -> str:
    """A site as a request names it (``example.com``, ``host:port``, an origin), normalized.

    >>> site_name("HTTP://127.0.0.1:8081")
    '127.0.0.1:8081'
    """
    try:
        return site_of(normalize_domain(text))
    except InvalidDomain as exc:
        raise InvalidRequest("Invalid site", str(exc)) from exc


@dataclass(frozen=True, slots=True)
class SiteView:
    """A site as read at ``now``, with its jobs by status."""

    site: Site
    now: datetime
    jobs: dict[JobStatus, int]
    workers: int = 0
    """Worker processes crawling it now (sharing its limits)."""

    @property
    def status(self) -> SiteStatus:
        return self.site.status(self.now)


class SiteManager:
    def __init__(
        self, store: Store, clock: Callable[[], datetime], breaker: Breaker | None = None
    ) -> None:
        self._store = store
        self.clock = clock
        self.breaker = breaker or Breaker()

    async def _views(self, found: Sequence[Site]) -> list[SiteView]:
        now = self.clock()
        counts, workers = await self._store.site_counts([site.site for site in found], now)
        return [SiteView(site, now, counts[site.site], workers[site.site]) for site in found]

    async def _view(self, site: Site) -> SiteView:
        [view] = await self._views([site])
        return view

    async def state(self, site: str) -> Site | None:
        """A site's state alone, without its job counts (for the paths that poll it)."""
        return await self._store.get_site(site)

    async def list_sites(
        self, *, status: SiteStatus | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[SiteView], int]:
        """A page of sites by name (those in ``status``), and how many there are."""
        found, total = await self._store.list_sites(
            status=status, now=self.clock(), limit=limit, offset=offset
        )
        return await self._views(found), total

    async def count_by_state(self) -> dict[SiteStatus, int]:
        """How many sites are in each state now (``/metrics``, ``/stats``)."""
        return await self._store.count_sites(self.clock())

    async def health(self, limit: int = 10) -> dict[str, Any]:
        """The stats report's ``siteHealth``: sites by state, and those holding their
        jobs back now (circuit open, cooling down, paused; ``limit`` of each)."""
        now = self.clock()
        held: list[Site] = []
        for status in (SiteStatus.CIRCUIT_OPEN, SiteStatus.COOLING_DOWN, SiteStatus.PAUSED):
            page, _ = await self._store.list_sites(status=status, now=now, limit=limit)
            held.extend(page)
        return site_health(await self._store.count_sites(now), held, now)

    async def get_site(self, name: str) -> SiteView:
        site = await self._store.get_site(site_name(name))
        if site is None:
            raise SiteNotFound()
        return await self._view(site)

    async def pause(self, name: str, paused: bool = True) -> SiteView:
        """Hold the site's jobs back (or let them go again) until told otherwise."""
        return await self.update(name, paused=paused)

    async def update(self, name: str, **changes: Any) -> SiteView:
        """Set what an operator sets on a site, in one step: ``paused``, the
        fleet-wide ``max_requests_per_second`` and ``max_concurrent_requests``
        (None: no cap, the default concurrency)."""
        now = self.clock()
        site = await self._store.update_site(
            site_name(name), lambda site: replace(site, **changes, updated_at=now), now
        )
        return await self._view(site)

    async def resume(self, name: str) -> SiteView:
        """Open the site now: its pause, its cooldown and its open circuit end."""
        now = self.clock()
        site = await self._store.update_site(site_name(name), lambda site: site.resumed(now), now)
        return await self._view(site)

    async def cool_down(self, site: str, failure: Failure) -> Site | None:
        """The site sent ``failure`` (a 429 or 503 with Retry-After): everyone waits."""
        now = self.clock()
        cooldown = cooldown_of(failure.recorded(), now)
        if cooldown is None:
            return None
        return await self._store.update_site(
            site, lambda current: current.cooled_down(*cooldown, now), now
        )

    # -- the fleet's workers ----------------------------------------------------

    async def sync_members(
        self, worker_id: str, rates: Mapping[str, float], *, seconds: float
    ) -> dict[str, tuple[Site | None, dict[str, float]]]:
        """``worker_id`` crawls the sites ``rates`` names, for ``seconds`` at least:
        each site's state and the workers crawling it now, with their requests/s."""
        now = self.clock()
        until = now + timedelta(seconds=seconds)
        return await self._store.sync_site_members(worker_id, rates, until, now)

    async def leave(self, worker_id: str, sites: Sequence[str] = ()) -> None:
        """``worker_id`` no longer crawls ``sites`` (any site, if none is named)."""
        await self._store.leave_sites(worker_id, sites)

    async def slowed(self, site: str, fleet_rate: float) -> Site:
        """The site answered 429 or 503: the fleet's rate halves (once per ``limits.GAP``)."""
        now = self.clock()
        return await self._store.update_site(
            site, lambda current: limits.slowed(current, fleet_rate, now, limits.GAP), now
        )

    async def recover(self, site: str) -> Site:
        """A ``limits.GAP`` without a slow-down: the fleet's lowered rate regains a step."""
        now = self.clock()
        return await self._store.update_site(
            site, lambda current: limits.recovered(current, now, limits.GAP), now
        )

    async def set_crawl_delay(self, site: str, seconds: float) -> Site:
        """A crawl read the site's robots.txt ``Crawl-delay``: it holds fleet-wide."""
        now = self.clock()
        return await self._store.update_site(
            site, lambda current: replace(current, crawl_delay=seconds or None, updated_at=now), now
        )

    async def trip(self, site: str, reason: str) -> Site:
        """Open ``site``'s circuit now for ``reason`` (it blocks most requests)."""
        now = self.clock()
        return await self._opening(site, lambda current: current.tripped(reason, now, self.breaker))

    async def attempt_ended(self, site: str, job_id: str, failure: Failure | None) -> Site:
        """An attempt of ``job_id`` on ``site`` ended: the site's state learns of it."""
        now = self.clock()
        recorded = failure.recorded() if failure is not None else None
        return await self._opening(
            site, lambda current: current.attempt_ended(job_id, recorded, now, self.breaker)
        )

    async def _opening(self, site: str, change: Callable[[Site], Site]) -> Site:
        """Apply ``change`` to the site; say so in the log when its circuit opens."""
        before: list[Site] = []

        def step(current: Site) -> Site:
            before.append(current)
            return change(current)

        after = await self._store.update_site(site, step, self.clock())
        if after.breaker_until is not None and after.breaker_until != before[-1].breaker_until:
            log.warning(
                "site %s: circuit open until %s (%s)",
                site,
                after.breaker_until.isoformat(timespec="seconds"),
                after.breaker_reason,
            )
        return after
