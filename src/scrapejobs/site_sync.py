"""Keeps a worker's :class:`~scrapejobs.crawler.SiteGate` and the fleet's sites in step.

Both ways, through the manager (so through the database every worker and
server shares):

- a cooldown one of this worker's crawls heard (a 429 or 503 with
  ``Retry-After``) is written for the fleet at once: no worker claims the
  site's jobs until it ends; so is an open circuit, when most of a site's
  recent responses here were blocks;
  a 429 or 503 lowers the site's fleet-wide rate, and a ``Crawl-delay`` a
  crawl read holds for the fleet (``scrapejobs.limits``);
- every ``interval`` seconds (and when a crawl of a new site starts) the
  worker renews its membership of the sites it crawls and reads them back: it
  takes its share of each site's limits (``limits.share_of``; on joining, what
  the others do not hold yet, ``limits.joining_share``) for its
  :class:`~scrapejobs.crawler.limiter.SiteLimiter`, and a cooldown another
  process heard, an open circuit, or an operator's pause, holds its crawls of
  the site too (a pause until it is lifted). A crawl thus learns of another
  process's cooldown, and a new member's arrival, within ``interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping

from scrapejobs import limits
from scrapejobs.crawler import SiteGate
from scrapejobs.errors import ScrapeJobsError
from scrapejobs.failures import Failure
from scrapejobs.limits import share_of
from scrapejobs.manager import JobManager
from scrapejobs.sites import Site

__all__ = ["SiteSync"]

log = logging.getLogger(__name__)


MEMBER_SYNCS = 3
"""A worker stays a member of a site for this many sync intervals after its last sync."""


class SiteSync:
    def __init__(
        self,
        manager: JobManager,
        gate: SiteGate,
        *,
        interval: float = 1.0,
        worker_id: str = "worker",
    ) -> None:
        self.manager = manager
        self.gate = gate
        self.interval = interval
        self.worker_id = worker_id
        gate.on_heard = self.heard
        gate.on_blocked = self.blocked
        gate.on_slowed = self.slowed
        gate.on_crawl_delay = self.crawl_delay
        self.joined: set[str] = set()
        """The sites this worker is a member of."""
        self._fleet_rates: dict[str, tuple[float, int]] = {}
        """Per site, what its members sent at their last syncs, and how many they are."""
        self._seen: dict[str, Site] = {}
        """Each site as the last sync read it: a change it shows is not due is not sent."""
        self._writes: set[asyncio.Task[None]] = set()

    def heard(self, site: str, failure: Failure) -> None:
        """A crawl here heard ``failure``: write the site's cooldown for everyone."""
        self._write(site, "its cooldown", self.manager.sites.cool_down(site, failure))

    def blocked(self, site: str, reason: str) -> None:
        """Most responses from ``site`` here were blocks: open its circuit for everyone."""
        self._write(site, "its open circuit", self.manager.sites.trip(site, reason))

    def slowed(self, site: str) -> None:
        """A crawl here got a 429 or 503: the fleet's rate for the site halves."""
        reported, members = self._fleet_rates.get(site, (0.0, 1))
        fleet_rate = max(reported, self.gate.limiter(site).rate() * members)
        seen = self._seen.get(site)
        now = self.manager.clock()
        if seen is not None and limits.slowed(seen, fleet_rate, now, limits.GAP) is seen:
            return  # another member halved it within the second: the rest of a burst
        self._write(site, "its lowered rate", self.manager.sites.slowed(site, fleet_rate))

    def crawl_delay(self, site: str, seconds: float) -> None:
        """A crawl here read the site's ``Crawl-delay``: it holds for the fleet."""
        self._write(site, "its Crawl-delay", self.manager.sites.set_crawl_delay(site, seconds))

    def _write(self, site: str, what: str, write: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await write
            except ScrapeJobsError as exc:  # the jobs' own reports will tell the fleet too
                log.error("site %s: cannot record %s: %s", site, what, exc.message)

        task = asyncio.create_task(run())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def sync(self, sites: set[str]) -> None:
        """Renew this worker's membership of ``sites`` (and leave the others); share
        their limits, and hold back (or let go) its crawls of them, as the fleet says."""
        if not sites and not self.joined:
            return  # nothing to renew, nothing to leave: no round trip
        rates = {name: self.gate.limiter(name).sent() for name in sites}
        try:
            found = await self.manager.sites.sync_members(
                self.worker_id, rates, seconds=MEMBER_SYNCS * self.interval
            )
            if gone := sorted(self.joined - sites):
                await self.manager.sites.leave(self.worker_id, gone)
        except ScrapeJobsError:
            return  # the database is away: the next round tries again
        for name in gone:
            self.gate.limiters.pop(name, None)
            self._seen.pop(name, None)
        joining, self.joined = sites - self.joined, set(sites)
        for name, (site, members) in found.items():
            self._fleet_rates[name] = (sum(members.values()), max(len(members), 1))
            site = site or Site(name, self.manager.clock())
            await self._apply(name, site, members, joining=name in joining)

    async def join(self, site: str, running: set[str]) -> None:
        """A crawl of ``site`` is about to start: share its limits first, if not yet."""
        if site not in self.joined:
            await self.sync(running | {site})

    async def _apply(
        self, name: str, site: Site, members: Mapping[str, float], *, joining: bool = False
    ) -> None:
        now = self.manager.clock()
        hold = site.hold(now)
        if hold is None:
            self.gate.let_go(name)
        else:
            until, reason = hold
            seconds = (until - now).total_seconds() if until else math.inf
            self.gate.hold(name, seconds, reason)
        share = (limits.joining_share if joining else share_of)(site, list(members), self.worker_id)
        await self.gate.limiter(name).set(share.rate, share.concurrency)
        self._seen[name] = site
        if limits.recovered(site, now, limits.GAP) is not site:  # a step up is due
            self._write(name, "its recovering rate", self.manager.sites.recover(name))

    async def run(self, sites: Callable[[], set[str]]) -> None:
        """:meth:`sync` the sites ``sites()`` names, every ``interval``, until cancelled
        (with none running, it leaves the sites it was a member of, then costs nothing)."""
        while True:
            await asyncio.sleep(self.interval)
            await self.sync(sites())

    async def close(self) -> None:
        """Wait for the writes under way, then leave every site."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._writes)
        with contextlib.suppress(ScrapeJobsError):  # else the rows expire by themselves
            await self.manager.sites.leave(self.worker_id)
        self.joined = set()
