"""The Crawler: one HTTP session shared by the many crawls of a worker.

The session (and its connection pool, DNS cache and guarded resolver) is
created on first use and lives until :meth:`Crawler.close`. Everything that
differs between crawls (user agent, timeout, concurrency, politeness) is
per request or per :class:`~scrapejobs.crawler.run.CrawlRun`. No cookies are
kept: crawls of different jobs must not share them.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp.resolver import ThreadedResolver

from scrapejobs.crawler.batch import OnPages
from scrapejobs.crawler.gate import SiteGate
from scrapejobs.crawler.guard import AddressPolicy, GuardedResolver, HostGuard
from scrapejobs.crawler.model import CrawlSpec, CrawlSummary
from scrapejobs.crawler.retries import DEFAULT_DELAYS, MAX_WAIT
from scrapejobs.crawler.run import CrawlRun
from scrapejobs.crawler.settings import CrawlerOptions

__all__ = ["MAX_CONNECTIONS", "Crawler"]

MAX_CONNECTIONS = 256
"""Connections a worker process's crawls may hold open at once (aiohttp queues the rest)."""


class Crawler:
    """Runs crawls; see :meth:`crawl`."""

    def __init__(
        self,
        *,
        policy: AddressPolicy = AddressPolicy(),
        max_response_bytes: int = 10 * 2**20,
        max_redirects: int = 10,
        page_batch: int = 100,
        batch_seconds: float = 0.5,
        retry_delays: tuple[float, ...] = DEFAULT_DELAYS,
        max_retry_wait: float = MAX_WAIT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        """``retry_delays``: backoff before each in-crawl retry (their number is the
        retry count); ``max_retry_wait``: the cap on one in-crawl wait;
        ``max_connections``: the connections all crawls of this Crawler (a worker
        process's) hold open at once, a budget above the per-crawl and per-site
        limits that an autoscaled pool cannot exceed."""
        self.max_connections = max_connections
        self._budget = asyncio.Semaphore(max_connections)
        """Requests in flight over all crawls: aiohttp's own connector limit let one
        more through in a test of two crawls (tests/integration/test_crawler.py)."""
        self.policy = policy
        self.options = CrawlerOptions(
            max_response_bytes=max_response_bytes,
            max_redirects=max_redirects,
            page_batch=page_batch,
            batch_seconds=batch_seconds,
            retry_delays=tuple(retry_delays),
            max_retry_wait=max_retry_wait,
        )
        self._guard = HostGuard(policy)
        self._session: aiohttp.ClientSession | None = None
        self.gate = SiteGate()
        """The sites held back for all the crawls of this Crawler."""

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0,  # the budget below bounds all crawls; each crawl and site its own too
                limit_per_host=0,
                ttl_dns_cache=60,
                resolver=GuardedResolver(self.policy, ThreadedResolver()),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
                trust_env=False,
            )
        return self._session

    async def crawl(self, spec: CrawlSpec, on_pages: OnPages) -> CrawlSummary:
        """Crawl as ``spec`` says, handing pages to ``on_pages`` in batches as it goes.

        Raises :class:`~scrapejobs.crawler.model.CrawlFailed` when the attempt
        fails (start URL or sitemaps unreachable, blocked by robots.txt or by
        the address policy, invalid URL), and
        :class:`~scrapejobs.crawler.gate.SiteHeld` when its site is held back
        for longer than a crawl waits; pages failing deeper are recorded
        and counted in ``CrawlSummary.errors``. Whatever ``on_pages`` raises
        ends the crawl and propagates unchanged.
        """
        run = CrawlRun(
            spec,
            on_pages,
            session=self._get_session(),
            guard=self._guard,
            options=self.options,
            gate=self.gate,
            budget=self._budget,
        )
        return await run.run()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
