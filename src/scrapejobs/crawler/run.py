"""One crawl from start to summary: the frontier, the workers, retries, politeness.

``domain_scrape`` fetches the start URL alone first (its failure is the
attempt's failure), then a fixed pool of ``maxConcurrentRequests`` workers
takes URLs from a frontier ordered by depth (so the crawl is breadth-first,
exactly so with one worker). Links are followed on the crawl's origins: the
start URL's, and the one it redirected to, if any. Every URL is
de-duplicated on its normalised form; a URL counts against ``maxPages`` when
it is queued, so the crawl fetches exactly ``maxPages`` pages when the site
has that many.

``page_scrape`` is the start page alone; ``sitemap_scrape`` reads the
sitemaps first (their failure is the attempt's failure) and fetches the
pages they list without following links.

Every request waits its turn at the :class:`~scrapejobs.crawler.pacing.Pacer`;
transient failures are retried in-crawl (:mod:`scrapejobs.crawler.retries`).
Cancelling the task running :meth:`CrawlRun.run` cancels the workers and
releases their connections before the ``CancelledError`` goes on.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from functools import partial

import aiohttp

from scrapejobs.crawler.batch import OnPages, PageBatcher
from scrapejobs.crawler.errors import FetchFailed
from scrapejobs.crawler.fetch import Fetcher, Response
from scrapejobs.crawler.guard import HostGuard
from scrapejobs.crawler.model import CrawlFailed, CrawlSpec, CrawlSummary
from scrapejobs.crawler.pacing import Pacer
from scrapejobs.crawler.pages import failed_page, page_of
from scrapejobs.crawler.parse import Document
from scrapejobs.crawler.retries import retry_wait
from scrapejobs.crawler.robots import RobotsRules, fetch_robots
from scrapejobs.crawler.settings import CrawlerOptions, CrawlSettings
from scrapejobs.crawler.sitemap import SitemapReader
from scrapejobs.crawler.urls import InvalidStartUrl, LinkResolver, origin_of, start_url
from scrapejobs.failures import ErrorType, Failure

__all__ = ["JOB_TYPES", "CrawlRun"]

JOB_TYPES = ("domain_scrape", "page_scrape", "sitemap_scrape")
SLOW_DOWN_STATUSES = frozenset({429, 503})
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


class CrawlRun:
    """The state of one crawl. Use once: ``await CrawlRun(...).run()``."""

    def __init__(
        self,
        spec: CrawlSpec,
        on_pages: OnPages,
        *,
        session: aiohttp.ClientSession,
        guard: HostGuard,
        options: CrawlerOptions,
    ) -> None:
        if spec.job_type not in JOB_TYPES:
            raise ValueError(f"unknown job type {spec.job_type!r}")
        self.spec = spec
        self.settings = settings = CrawlSettings.from_config(spec.config)
        self.options = options
        self.fetcher = Fetcher(
            session,
            guard,
            headers={"User-Agent": settings.user_agent, "Accept": ACCEPT},
            timeout=settings.timeout,
            max_bytes=options.max_response_bytes,
            max_redirects=options.max_redirects,
        )
        self.pacer = Pacer(settings.delay)
        self.batcher = PageBatcher(on_pages, size=options.page_batch, seconds=options.batch_seconds)
        self.follow = spec.job_type == "domain_scrape"
        self.links = LinkResolver()
        self.robots: dict[str, RobotsRules] = {}
        self.origins: set[str] = set()
        self.seen: set[str] = set()
        self.scheduled = 0
        self.frontier: asyncio.PriorityQueue[tuple[int, int, str]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._random = random.Random()

    async def run(self) -> CrawlSummary:
        try:
            url, origin = start_url(self.spec.domain, self.settings.start_url)
        except InvalidStartUrl as exc:
            raise CrawlFailed(Failure(ErrorType.INVALID_URL, str(exc))) from exc
        self.origins.add(origin)
        if self.spec.job_type == "sitemap_scrape":
            await self._read_sitemaps(url, origin)
        else:
            await self._start_page(url, origin)
        await self._drain()
        await self.batcher.flush()
        return CrawlSummary(self.batcher.pages, self.batcher.errors)

    # -- requests -------------------------------------------------------

    async def fetch(self, url: str, *, max_bytes: int | None = None) -> Response:
        """One paced GET; a 429 or 503 slows the whole crawl down."""
        generation = await self.pacer.wait()
        response = await self.fetcher.get(url, max_bytes=max_bytes)
        if response.status in SLOW_DOWN_STATUSES:
            self.pacer.slow_down(generation)
        return response

    async def fetch_retrying(
        self, url: str, *, start: bool = False, max_bytes: int | None = None
    ) -> Response:
        """:meth:`fetch`, retrying transient failures; the last error status is returned."""
        retry = 0
        while True:
            response: Response | None = None
            try:
                response = await self.fetch(url, max_bytes=max_bytes)
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
            if wait is None:
                if response is None:
                    raise FetchFailed(failure)
                return response
            retry += 1
            await asyncio.sleep(wait)

    async def _load_robots(self, origin: str) -> RobotsRules:
        """Fetch ``origin``'s robots.txt once; its rules apply when respectRobots."""
        rules = await fetch_robots(self.fetch, origin, self.settings.user_agent)
        if self.settings.respect_robots:
            self.robots[origin] = rules
            self.pacer.at_least(rules.crawl_delay)
        return rules

    def _allowed(self, url: str, origin: str) -> bool:
        rules = self.robots.get(origin)
        return rules is None or rules.allows(url)

    # -- the start ------------------------------------------------------

    async def _start_page(self, url: str, origin: str) -> None:
        if self.settings.respect_robots:
            await self._load_robots(origin)
        if not self._allowed(url, origin):
            message = f"robots.txt disallows {url} for {self.settings.user_agent!r}"
            raise CrawlFailed(Failure(ErrorType.ROBOTS_DISALLOWED, message))
        try:
            response = await self.fetch_retrying(url, start=True)
        except FetchFailed as exc:
            raise CrawlFailed(exc.failure) from exc
        failure = response.failure()
        if failure is not None:
            raise CrawlFailed(failure)
        self.seen.add(url)
        self.scheduled = 1
        final_origin = origin_of(response.final_url)
        if self.follow and final_origin not in self.origins:
            # example.com -> www.example.com: crawl where the site lives.
            self.origins.add(final_origin)
            if self.settings.respect_robots:
                await self._load_robots(final_origin)
        await self._record(response, 0)

    async def _read_sitemaps(self, url: str, origin: str) -> None:
        if self.settings.start_url:  # startUrl names the sitemap
            sources = [url]
            if self.settings.respect_robots:
                await self._load_robots(origin)
        else:  # robots.txt is read for its Sitemap lines even when not obeyed
            rules = await self._load_robots(origin)
            sources = [*rules.sitemaps, f"{origin}/sitemap.xml"]
        reader = SitemapReader(
            partial(self.fetch_retrying, start=True),
            origins=self.origins,
            wanted=lambda page: self._allowed(page, origin_of(page)),
            max_urls=self.settings.max_pages,
            max_bytes=self.options.max_response_bytes,
        )
        try:
            urls = await reader.read(sources)
        except FetchFailed as exc:
            raise CrawlFailed(exc.failure) from exc
        for page_url in urls:
            self.seen.add(page_url)
            self._schedule(page_url, 0)

    # -- the frontier ---------------------------------------------------

    def _schedule(self, url: str, depth: int) -> None:
        self.scheduled += 1
        self.frontier.put_nowait((depth, next(self._order), url))

    def _follow_links(self, document: Document, page_url: str, depth: int) -> None:
        """Queue the new same-origin links of a page, at ``depth``, within maxPages."""
        max_pages = self.settings.max_pages
        if self.scheduled >= max_pages:
            return
        base = page_url
        if document.base and (resolved := self.links.resolve(page_url, document.base)):
            base = resolved[0]
        seen, origins = self.seen, self.origins
        for url, origin in self.links.resolve_all(base, document.hrefs):
            if url in seen or origin not in origins:
                continue
            seen.add(url)
            if self._allowed(url, origin):
                self._schedule(url, depth)
                if self.scheduled >= max_pages:
                    return

    async def _record(self, response: Response, depth: int) -> None:
        self.seen.add(response.final_url)
        page, document = page_of(response, depth)
        if document is not None and self.follow and depth < self.settings.depth:
            self._follow_links(document, response.final_url, depth + 1)
        await self.batcher.add(page)

    async def _visit(self, url: str, depth: int) -> None:
        try:
            response = await self.fetch_retrying(url)
        except FetchFailed as exc:
            await self.batcher.add(failed_page(url, depth, exc.failure))
        else:
            await self._record(response, depth)

    async def _work(self) -> None:
        frontier = self.frontier
        while True:
            depth, _, url = await frontier.get()
            try:
                await self._visit(url, depth)
            finally:
                frontier.task_done()

    async def _drain(self) -> None:
        """Run the workers until the frontier is done; the first error ends them all."""
        if self.frontier.empty():
            return
        workers = [asyncio.create_task(self._work()) for _ in range(self.settings.concurrency)]
        finished = asyncio.create_task(self.frontier.join())
        timer = asyncio.create_task(self.batcher.flush_periodically())
        tasks = [finished, timer, *workers]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not finished:
                    task.result()  # a worker or the batch timer failed: raise it
            self.batcher.stop_timer()
            await timer  # not cancelled: it may be storing a batch
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
