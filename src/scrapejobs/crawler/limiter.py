"""One worker process's share of a site's fleet-wide limits (``scrapejobs.limits``).

A :class:`SiteLimiter` bounds the requests of every crawl of the process to
one site: at most ``concurrency`` in flight and their starts at least
``interval`` apart. The worker's sync with the fleet sets both from the
process's share; the crawl's ``Crawl-delay`` and a 429 or 503 change them
at once, before the next sync. Without a share (a Crawler used alone) the
limiter lets everything through but a ``Crawl-delay``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

__all__ = ["SiteLimiter"]


class SiteLimiter:
    def __init__(self) -> None:
        self.concurrency: int | None = None
        """Requests in flight allowed (None: any)."""
        self.interval = 0.0
        """Seconds between request starts (the rate share's inverse)."""
        self.in_flight = 0
        self.started = 0
        """Requests started since :meth:`sent` was last asked."""
        self.shared = False
        """Whether the fleet has set a share (else it lets everything through)."""
        self._counted_since = asyncio.get_running_loop().time()
        self._next_start = -math.inf
        self._changed = asyncio.Condition()

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    async def set(self, rate: float | None, concurrency: int | None) -> None:
        """The process's new share: ``rate`` requests/s (None: any), ``concurrency``."""
        async with self._changed:
            self.interval = 1 / rate if rate else 0.0
            self.concurrency = concurrency
            self.shared = True
            self._changed.notify_all()

    def at_least(self, interval: float) -> None:
        """Space starts at least ``interval`` apart until the next share says otherwise."""
        self.interval = max(self.interval, interval)

    def slow_down(self) -> None:
        """A 429 or 503: halve this process's share of the rate now (at most one
        request a second), until the next share (which the fleet lowers too)."""
        if self.shared:
            self.interval = max(2 * self.interval, 1.0)

    def rate(self) -> float:
        """Requests/s started since :meth:`sent` was last asked."""
        return self.started / max(self._loop_time() - self._counted_since, 1e-3)

    def sent(self) -> float:
        """Requests/s started since the last call; the count starts again."""
        rate = self.rate()
        self.started, self._counted_since = 0, self._loop_time()
        return rate

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the site's requests: wait for room and for its turn."""
        async with self._changed:
            while True:
                busy = self.concurrency is not None and self.in_flight >= self.concurrency
                wait = self._next_start - self._loop_time()
                if not busy and wait <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), None if busy else wait)
            self.in_flight += 1
            self.started += 1
            self._next_start = self._loop_time() + self.interval
        try:
            yield
        finally:
            async with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()  # a waiter may have been cancelled meanwhile
