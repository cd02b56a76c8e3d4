"""A crawl's requests: paced, retried in-crawl, slowed on 429/503 (and recovered),
kept within the deadline.

:class:`Requests` is what a :class:`~scrapejobs.crawler.run.CrawlRun` (and
the robots and sitemap readers it drives) fetch with. Every GET waits its
turn at the :class:`~scrapejobs.crawler.pacing.Pacer`; a 429 or 503 slows
the whole crawl down; transient failures are retried (``retries.py``).

With a deadline (``config.maxDuration``): no request starts after it
(:class:`DeadlinePassed`, a timeout to its callers), none runs past it (its
timeout is cut to what is left), and no in-crawl retry waits beyond it.

Every request also asks the :class:`~scrapejobs.crawler.gate.SiteGate`
whether its site is held back (a cooldown any crawl heard, or the fleet's):
it waits out a short hold, and a long one ends the attempt with
:class:`~scrapejobs.crawler.gate.SiteHeld`. A 429 or 503 with
``Retry-After`` holds the site back for every crawl of the process. The gate
counts blocks (``scrapejobs.blocks``); they do not slow the crawl, they open
the site's circuit when most responses are blocks.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from scrapejobs.crawler.errors import FetchFailed
from scrapejobs.crawler.fetch import Fetcher, Response, Sink
from scrapejobs.crawler.gate import SiteGate, SiteHeld
from scrapejobs.crawler.pacing import Pacer
from scrapejobs.crawler.retries import retry_wait
from scrapejobs.crawler.settings import CrawlerOptions, CrawlSettings
from scrapejobs.crawler.urls import origin_of
from scrapejobs.failures import ErrorType, Failure
from scrapejobs.sites import site_of

__all__ = ["DeadlinePassed", "Requests"]

SLOW_DOWN_STATUSES = frozenset({429, 503})


class DeadlinePassed(FetchFailed):
    """A request would start after the attempt's deadline."""

    def __init__(self, url: str) -> None:
        message = f"the attempt's deadline (maxDuration) passed before {url} was fetched"
        super().__init__(Failure(ErrorType.TIMEOUT, message))


class Requests:
    """The GETs of one crawl."""

    def __init__(
        self,
        fetcher: Fetcher,
        settings: CrawlSettings,
        options: CrawlerOptions,
        gate: SiteGate | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.settings = settings
        self.options = options
        self.gate = gate or SiteGate()
        self._sites: dict[str, str] = {}
        self.pacer = Pacer(settings.delay)
        self._random = random.Random()
        self._loop = asyncio.get_running_loop()
        duration = settings.max_duration
        self._deadline = self._loop.time() + duration if duration is not None else None

    def time_left(self) -> float | None:
        """Seconds to the deadline (negative once past), or None without one."""
        return None if self._deadline is None else self._deadline - self._loop.time()

    def past_deadline(self) -> bool:
        left = self.time_left()
        return left is not None and left <= 0

    async def fetch(
        self,
        url: str,
        *,
        max_bytes: int | None = None,
        sink: Sink | None = None,
        known: Callable[[str], bool] | None = None,
    ) -> Response:
        """One paced GET, within the deadline; a 429 or 503 slows the whole crawl down.

        ``known``: redirect targets not to fetch (``Fetcher.get``).
        """
        site = self._site(url)
        await self._wait_for(site)
        try:
            async with asyncio.timeout(self.time_left()):
                generation = await self.pacer.wait()
        except TimeoutError:
            raise DeadlinePassed(url) from None
        left = self.time_left()
        if left is not None and left <= 0:
            raise DeadlinePassed(url)
        try:
            async with asyncio.timeout(left), self.gate.limiter(site).slot():
                left = self.time_left()
                limit = None if left is None else min(self.settings.timeout, max(left, 0.001))
                response = await self.fetcher.get(
                    url, max_bytes=max_bytes, time_limit=limit, sink=sink, known=known
                )
        except TimeoutError:
            raise DeadlinePassed(url) from None
        if response.status not in SLOW_DOWN_STATUSES:
            self.pacer.speed_up(generation)
        else:
            self.pacer.slow_down(generation)
            self.gate.slowed(site)
            failure = response.failure()
            if failure is not None:
                self.gate.heard(site, failure)
        self.gate.answered(site, response.block)
        return response

    def _site(self, url: str) -> str:
        origin = origin_of(url)
        site = self._sites.get(origin)
        if site is None:
            site = self._sites[origin] = site_of(origin)
        return site

    async def _wait_for(self, site: str) -> None:
        """Wait while the site is held back briefly; SiteHeld when it is for long."""
        while (held := self.gate.left(site)) is not None:
            seconds, reason = held
            left = self.time_left()
            if seconds > self.options.max_retry_wait or (left is not None and seconds >= left):
                raise SiteHeld(site, seconds, reason)
            await asyncio.sleep(seconds)

    async def fetch_retrying(
        self,
        url: str,
        *,
        start: bool = False,
        max_bytes: int | None = None,
        sink: Sink | None = None,
        known: Callable[[str], bool] | None = None,
    ) -> Response:
        """:meth:`fetch`, retrying transient failures; the last error status is returned.

        ``start``: a ``Retry-After`` beyond the in-crawl cap ends the attempt
        instead of parking the worker (``retries.py``). A retry that could not
        start before the deadline is not waited for.
        """
        retry = 0
        while True:
            response: Response | None = None
            try:
                response = await self.fetch(url, max_bytes=max_bytes, sink=sink, known=known)
            except FetchFailed as exc:
                failure = exc.failure
            else:
                if (found := response.failure()) is None:
                    return response
                failure = found
            wait = retry_wait(
                failure,
                retry,
                delays=self.options.retry_delays,
                jitter=self._random.random() / 4,
                respect_retry_after=self.settings.respect_retry_after,
                cap=self.options.max_retry_wait,
                give_up_beyond_cap=start,
            )
            left = self.time_left()
            if wait is None or (left is not None and wait >= left):
                if response is None:
                    raise FetchFailed(failure)
                return response
            retry += 1
            await asyncio.sleep(wait)
