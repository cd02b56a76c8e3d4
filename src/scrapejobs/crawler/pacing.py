"""Politeness: the spacing of a crawl's request starts.

One :class:`Pacer` per crawl. Its interval is the larger of the job's
``delay`` and the site's ``Crawl-delay``; a 429 or 503 doubles it (at least
1 s, at most :data:`MAX_INTERVAL`) and it never shrinks again during the
crawl. Responses to requests sent before the last slow-down do not slow the
crawl again, so eight parallel 429s double the interval once, not eight times.
"""

from __future__ import annotations

import asyncio
import math

__all__ = ["MAX_INTERVAL", "Pacer"]

MAX_INTERVAL = 60.0
MIN_SLOW_INTERVAL = 1.0


class Pacer:
    """Spaces request starts at least ``interval`` seconds apart."""

    def __init__(self, interval: float = 0.0) -> None:
        self.interval = max(interval, 0.0)
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
        self.interval = max(self.interval, min(interval, MAX_INTERVAL))

    def slow_down(self, generation: int) -> None:
        """A request started in ``generation`` was told to slow down (429, 503)."""
        if generation != self.generation:
            return
        self.generation += 1
        self.interval = max(self.interval, min(self.interval * 2, MAX_INTERVAL), MIN_SLOW_INTERVAL)
