"""Sites held back for every crawl of one Crawler (one worker process).

A hold comes from a response (a 429 or 503 with ``Retry-After``, heard by
any crawl: every crawl of the process waits, and ``on_heard`` tells the
fleet) or from the fleet (``hold`` by the worker, which syncs with the
database: another process heard a ``Retry-After``, or an operator paused the
site). Before each request a crawl asks :meth:`SiteGate.left`; it waits out
a short hold, and a long one (over the in-crawl cap) ends its attempt with
:class:`SiteHeld`, for the job to wait without a worker.

The gate also counts the blocks (anti-bot challenges) among each site's
last :data:`BLOCK_WINDOW` responses, over every crawl of the process: when
at least :data:`BLOCK_SHARE` of them are blocks, ``on_blocked`` tells the
fleet, which opens the site's circuit (``Site.tripped``). So a site that
blocks pages deep in crawls is backed off from, not only one whose start
pages fail.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from scrapejobs.crawler.limiter import SiteLimiter
from scrapejobs.failures import Failure

__all__ = ["BLOCK_SHARE", "BLOCK_WINDOW", "SiteGate", "SiteHeld"]

HEARD = "heard"
FLEET = "fleet"
BLOCK_WINDOW = 20
BLOCK_SHARE = 0.5


class SiteHeld(Exception):
    """The crawl's site is held back for longer than a crawl waits: the attempt stops."""

    def __init__(self, site: str, seconds: float, reason: str) -> None:
        wait = "until resumed" if math.isinf(seconds) else f"for {seconds:.0f} s"
        super().__init__(f"{site} is held back {wait}: {reason}")
        self.site = site
        self.seconds = seconds
        self.reason = reason


@dataclass(slots=True)
class _Hold:
    until: float
    """Loop time; ``inf`` until the fleet lets go (a pause)."""
    reason: str
    source: str


class SiteGate:
    def __init__(self, on_heard: Callable[[str, Failure], None] | None = None) -> None:
        self.on_heard = on_heard
        """Told of each cooldown a response asked for (the worker writes it for the fleet)."""
        self.on_blocked: Callable[[str, str], None] | None = None
        """Told (site, why) when most of a site's recent responses were blocks."""
        self.on_slowed: Callable[[str], None] | None = None
        """Told of each 429 or 503 (the fleet lowers the site's rate)."""
        self.on_crawl_delay: Callable[[str, float], None] | None = None
        """Told of a site's ``Crawl-delay`` when a crawl reads a new one."""
        self._holds: dict[str, _Hold] = {}
        self._answers: dict[str, deque[str | None]] = {}
        self.limiters: dict[str, SiteLimiter] = {}
        """The process's share of each site's fleet-wide limits."""
        self._crawl_delays: dict[str, float] = {}

    def limiter(self, site: str) -> SiteLimiter:
        found = self.limiters.get(site)
        if found is None:
            found = self.limiters[site] = SiteLimiter()
        return found

    def slowed(self, site: str) -> None:
        """The site answered 429 or 503: this process slows at once, the fleet is told."""
        self.limiter(site).slow_down()
        if self.on_slowed is not None:
            self.on_slowed(site)

    def crawl_delay(self, site: str, seconds: float) -> None:
        """A crawl read the site's ``Crawl-delay``: it holds for every crawl of the fleet."""
        self.limiter(site).at_least(seconds)
        if self._crawl_delays.get(site) != seconds:
            self._crawl_delays[site] = seconds
            if self.on_crawl_delay is not None:
                self.on_crawl_delay(site, seconds)

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def left(self, site: str) -> tuple[float, str] | None:
        """Seconds the site is still held back and why, or None when it is open."""
        hold = self._holds.get(site)
        if hold is None:
            return None
        seconds = hold.until - self._now()
        if seconds <= 0:
            del self._holds[site]
            return None
        return seconds, hold.reason

    def heard(self, site: str, failure: Failure) -> None:
        """A response asked the site's clients to wait (``failure.retry_after`` seconds)."""
        if not failure.retry_after:
            return
        status = failure.http_status or failure.error_type.value
        self._hold(site, failure.retry_after, f"HTTP {status} with Retry-After", HEARD)
        if self.on_heard is not None:
            self.on_heard(site, failure)

    def answered(self, site: str, block: str | None) -> None:
        """A response came from the site: a block (the signature's name) or not."""
        window = self._answers.get(site)
        if window is None:
            window = self._answers[site] = deque(maxlen=BLOCK_WINDOW)
        window.append(block)
        if block is None or len(window) < BLOCK_WINDOW:
            return
        blocks = sum(1 for answer in window if answer is not None)
        if blocks >= BLOCK_SHARE * BLOCK_WINDOW:
            window.clear()  # the next verdict on this site waits for a new window
            if self.on_blocked is not None:
                why = f"{blocks} of the last {BLOCK_WINDOW} responses were blocks ({block})"
                self.on_blocked(site, why)

    def hold(self, site: str, seconds: float, reason: str) -> None:
        """The fleet holds the site back (``inf``: until it says otherwise)."""
        self._hold(site, seconds, reason, FLEET)

    def let_go(self, site: str) -> None:
        """The fleet opened the site: its holds end (one heard here runs its course)."""
        hold = self._holds.get(site)
        if hold is not None and hold.source == FLEET:
            del self._holds[site]

    def _hold(self, site: str, seconds: float, reason: str, source: str) -> None:
        until = self._now() + seconds
        current = self._holds.get(site)
        if current is None or current.until < until:
            self._holds[site] = _Hold(until, reason, source)
