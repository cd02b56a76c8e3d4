"""Hands a crawl's pages to the caller in batches, while the crawl runs.

A batch goes out every ``size`` pages or every ``seconds`` (when there is
anything), and a last one at the end. The callback is awaited, one batch at
a time: a slow store slows the crawl (back-pressure) instead of piling
pages up in memory. What the callback raises ends the crawl, unchanged.

The timer is stopped with :meth:`PageBatcher.stop_timer`, never cancelled
at the end of a crawl: a cancelled timer could drop the batch it is storing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from scrapejobs.crawler.model import Page

__all__ = ["PageBatcher"]

OnPages = Callable[[list[Page]], Awaitable[None]]


class PageBatcher:
    def __init__(self, on_pages: OnPages, *, size: int, seconds: float) -> None:
        self._on_pages = on_pages
        self._size = max(size, 1)
        self._seconds = seconds
        self._buffer: list[Page] = []
        self._lock = asyncio.Lock()
        self._timer_stopped = asyncio.Event()
        self.pages = 0
        self.errors = 0

    async def add(self, page: Page) -> None:
        self._buffer.append(page)
        self.pages += 1
        if page.error is not None:
            self.errors += 1
        if len(self._buffer) >= self._size:
            await self.flush()

    async def flush(self) -> None:
        """Hand over every buffered page (waits for a batch in progress first)."""
        async with self._lock:
            while self._buffer:
                batch, self._buffer = self._buffer[: self._size], self._buffer[self._size :]
                await self._on_pages(batch)

    async def flush_periodically(self) -> None:
        """Flush every ``seconds`` until :meth:`stop_timer` (runs beside the crawl's workers)."""
        while not self._timer_stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_stopped.wait(), self._seconds)
            if self._buffer:
                await self.flush()

    def stop_timer(self) -> None:
        """End :meth:`flush_periodically` once a flush in progress is done."""
        self._timer_stopped.set()
