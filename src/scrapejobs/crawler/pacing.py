"""Politeness: the spacing of a crawl's request starts, slowed and recovered (AIMD).

One :class:`Pacer` per crawl. Its *base* interval is the larger of the job's
``delay`` and the site's ``Crawl-delay``; it never goes faster than that. A
429 or 503 slows it down multiplicatively, and each answer that is not one
speeds it up again additively, as TCP's congestion control does (AIMD)::

    after a 429 or 503:  interval = min(max(2 * interval, 1 s), 60 s)
    after any other:     rate = 1 / interval + 0.5 requests/s
                         interval = 1 / rate, or the base once that is reached
                         (without a delay: once rate >= 10 requests/s)

Only answers to requests sent since the last slow-down (its *generation*)
count: eight parallel 429s double the interval once, not eight times, and
the answers to requests already in flight do not undo it.

An example without a delay: a stray 503 sets 1 s; the next answers bring
it to 0.67 s, 0.5 s, 0.4 s, 0.33 s ... and after 18 of them the crawl is
unpaced again, about 5 s later (it used to stay at 1 s for the rest of the
crawl). With ``delay: 500`` a 429 sets 1 s and two answers bring it back to
0.5 s.
"""

from __future__ import annotations

import asyncio
import math

__all__ = ["MAX_INTERVAL", "Pacer"]

MAX_INTERVAL = 60.0
MIN_SLOW_INTERVAL = 1.0
RATE_STEP = 0.5
"""Requests/s the rate regains with each answer that is not a slow-down."""
FREE_RATE = 10.0
"""Without a delay, the rate at which the crawl is unpaced again."""


class Pacer:
    """Spaces request starts at least ``interval`` seconds apart."""

    def __init__(self, interval: float = 0.0) -> None:
        self.base = min(max(interval, 0.0), MAX_INTERVAL)
        """The configured pace: the job's delay or the site's Crawl-delay."""
        self.interval = self.base
        self.generation = 0
        """Bumped by each slow-down; a request remembers the one it started in."""
        self._last_start = -math.inf
        self._lock = asyncio.Lock()

    async def wait(self) -> int:
        """Wait for this request's turn; returns the generation it starts in."""
        loop = asyncio.get_running_loop()
        if self.interval <= 0:
            self._last_start = loop.time()
            return self.generation
        async with self._lock:
            # Re-read the interval after each sleep: a slow-down may come meanwhile.
            remaining = self._last_start + self.interval - loop.time()
            while remaining > 0:
                await asyncio.sleep(remaining)
                remaining = self._last_start + self.interval - loop.time()
            self._last_start = loop.time()
            return self.generation

    def at_least(self, interval: float) -> None:
        """The site asks for ``interval`` between requests (``Crawl-delay``)."""
        self.base = max(self.base, min(interval, MAX_INTERVAL))
        self.interval = max(self.interval, self.base)

    def slow_down(self, generation: int) -> None:
        """A request started in ``generation`` was told to slow down (429, 503)."""
        if generation != self.generation:
            return
        self.generation += 1
        self.interval = min(max(self.interval * 2, MIN_SLOW_INTERVAL), MAX_INTERVAL)

    def speed_up(self, generation: int) -> None:
        """A request started in ``generation`` was answered without a slow-down:
        regain some rate, up to the base."""
        if generation != self.generation or self.interval <= self.base:
            return
        rate = 1 / self.interval + RATE_STEP
        ceiling = 1 / self.base if self.base > 0 else FREE_RATE
        self.interval = self.base if rate >= ceiling else 1 / rate
