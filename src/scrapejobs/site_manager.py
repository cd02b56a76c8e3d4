"""SiteManager: the use cases of sites (the ``/api/domains`` routes, the fleet's cooldowns).

``JobManager.sites`` is one; it shares the job manager's store and clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from scrapejobs.errors import InvalidRequest, SiteNotFound
from scrapejobs.failures import Failure
from scrapejobs.jobs import InvalidDomain, JobStatus, normalize_domain
from scrapejobs.sites import Site, SiteStatus, cooldown_of, site_of
from scrapejobs.store import Store

__all__ = ["SiteManager", "SiteView", "site_name"]


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

    @property
    def status(self) -> SiteStatus:
        return self.site.status(self.now)


class SiteManager:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self.clock = clock

    async def _views(self, found: Sequence[Site]) -> list[SiteView]:
        counts = await self._store.site_job_counts([site.site for site in found])
        now = self.clock()
        return [SiteView(site, now, counts[site.site]) for site in found]

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

    async def get_site(self, name: str) -> SiteView:
        site = await self._store.get_site(site_name(name))
        if site is None:
            raise SiteNotFound()
        return await self._view(site)

    async def pause(self, name: str, paused: bool = True) -> SiteView:
        """Hold the site's jobs back (or let them go again) until told otherwise."""
        site = await self._store.set_site_state(site_name(name), self.clock(), paused=paused)
        return await self._view(site)

    async def resume(self, name: str) -> SiteView:
        """Open the site now: its pause and its cooldown end."""
        site = await self._store.set_site_state(
            site_name(name), self.clock(), paused=False, cooldown_until=None, cooldown_reason=None
        )
        return await self._view(site)

    async def cool_down(self, site: str, failure: Failure) -> Site | None:
        """The site sent ``failure`` (a 429 or 503 with Retry-After): everyone waits."""
        now = self.clock()
        cooldown = cooldown_of(failure.recorded(), now)
        if cooldown is None:
            return None
        return await self._store.cool_down_site(site, *cooldown, now)
