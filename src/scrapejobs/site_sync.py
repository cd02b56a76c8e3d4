"""Keeps a worker's :class:`~scrapejobs.crawler.SiteGate` and the fleet's sites in step.

Both ways, through the manager (so through the database every worker and
server shares):

- a cooldown one of this worker's crawls heard (a 429 or 503 with
  ``Retry-After``) is written for the fleet at once: no worker claims the
  site's jobs until it ends; so is an open circuit, when most of a site's
  recent responses here were blocks;
- every ``interval`` seconds the sites of the running crawls are read back:
  a cooldown another process heard, an open circuit, or an operator's pause,
  holds this worker's crawls of the site too (a pause until it is lifted). A
  crawl thus learns of another process's cooldown within ``interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable

from scrapejobs.crawler import SiteGate
from scrapejobs.errors import ScrapeJobsError
from scrapejobs.failures import Failure
from scrapejobs.manager import JobManager

__all__ = ["SiteSync"]

log = logging.getLogger(__name__)


class SiteSync:
    def __init__(self, manager: JobManager, gate: SiteGate, *, interval: float = 1.0) -> None:
        self.manager = manager
        self.gate = gate
        self.interval = interval
        gate.on_heard = self.heard
        gate.on_blocked = self.blocked
        self._writes: set[asyncio.Task[None]] = set()

    def heard(self, site: str, failure: Failure) -> None:
        """A crawl here heard ``failure``: write the site's cooldown for everyone."""
        self._write(site, "its cooldown", self.manager.sites.cool_down(site, failure))

    def blocked(self, site: str, reason: str) -> None:
        """Most responses from ``site`` here were blocks: open its circuit for everyone."""
        self._write(site, "its open circuit", self.manager.sites.trip(site, reason))

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
        """Hold back (or let go) this worker's crawls of ``sites`` as the fleet says."""
        for name in sorted(sites):
            try:
                site = await self.manager.sites.state(name)
            except ScrapeJobsError:
                continue  # the database is away: the next round tries again
            hold = site.hold(self.manager.clock()) if site else None
            if hold is None:
                self.gate.let_go(name)
                continue
            until, reason = hold
            seconds = (until - self.manager.clock()).total_seconds() if until else math.inf
            self.gate.hold(name, seconds, reason)

    async def run(self, sites: Callable[[], set[str]]) -> None:
        """:meth:`sync` the sites ``sites()`` names, every ``interval``, until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            if running := sites():
                await self.sync(running)

    async def close(self) -> None:
        """Wait for the cooldowns being written."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._writes)
