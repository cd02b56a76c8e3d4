"""One crawl from start to summary: the frontier, the workers, retries, politeness.

``domain_scrape`` fetches the start URL alone first (its failure is the
attempt's failure), then a fixed pool of ``maxConcurrentRequests`` workers
takes URLs from a frontier ordered by depth (so the crawl is breadth-first,
exactly so with one worker). Links are followed on the crawl's origins: the
start URL's, and the one it redirected to, if any. Every URL is
de-duplicated on its normalised form (``urls.py``), and so is every page:
the URLs a redirect (or a ``<meta http-equiv="refresh">``, followed like
one) went through are never fetched again, and a page reached by two paths
is recorded once, at its final URL. A URL counts against ``maxPages`` when it
is queued, and a fetch that only found a page already recorded gives its
place back (to a link that had found ``maxPages`` full), so the crawl records
exactly ``maxPages`` pages when the site has that many.

``page_scrape`` is the start page alone; ``sitemap_scrape`` reads the
sitemaps first (their failure is the attempt's failure) and fetches the
pages they list without following links.

Requests are paced, retried in-crawl and kept within the attempt's deadline
(``maxDuration``) by :class:`~scrapejobs.crawler.requests.Requests`. At the
deadline the workers stop taking URLs, and the crawl ends with the pages it
has, saying so in :attr:`CrawlSummary.note`. Cancelling the task running
:meth:`CrawlRun.run` cancels the workers and releases their connections
before the ``CancelledError`` goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from functools import partial

import aiohttp

from scrapejobs.crawler.batch import OnPages, PageBatcher
from scrapejobs.crawler.errors import FetchFailed
from scrapejobs.crawler.fetch import AlreadyFetched, Fetcher, Response
from scrapejobs.crawler.gate import SiteGate
from scrapejobs.crawler.guard import HostGuard
from scrapejobs.crawler.model import CrawlFailed, CrawlSpec, CrawlSummary, Page
from scrapejobs.crawler.pages import failed_page, page_of
from scrapejobs.crawler.parse import Document
from scrapejobs.crawler.requests import Requests
from scrapejobs.crawler.robots import RobotsRules, RobotsUnreachable, allow_all, fetch_robots
from scrapejobs.crawler.settings import CrawlerOptions, CrawlSettings
from scrapejobs.crawler.sitemap import SitemapReader
from scrapejobs.crawler.urls import (
    DEFAULT_QUERY_RULES,
    InvalidStartUrl,
    LinkResolver,
    QueryRules,
    normalise,
    origin_of,
    start_url,
)
from scrapejobs.failures import ErrorType, Failure
from scrapejobs.sites import site_of

__all__ = ["JOB_TYPES", "CrawlRun"]

JOB_TYPES = ("domain_scrape", "page_scrape", "sitemap_scrape")
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
Recorded = tuple[Page, Document | None]
MAX_SPARE_LINKS = 1000
"""Links kept aside once ``maxPages`` is full, for the places duplicates give back."""
MAX_SPARE_PAGES = 100
"""Pages whose links are looked at for that, once ``maxPages`` is full (they cost CPU)."""


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
        gate: SiteGate | None = None,
        budget: asyncio.Semaphore | None = None,
    ) -> None:
        if spec.job_type not in JOB_TYPES:
            raise ValueError(f"unknown job type {spec.job_type!r}")
        self.spec = spec
        self.settings = settings = CrawlSettings.from_config(spec.config)
        self.options = options
        self.rules = (
            QueryRules(settings.dropped_parameters)
            if settings.dropped_parameters is not None
            else DEFAULT_QUERY_RULES
        )
        fetcher = Fetcher(
            session,
            guard,
            headers={"User-Agent": settings.user_agent, "Accept": ACCEPT},
            timeout=settings.timeout,
            max_bytes=settings.max_page_bytes or options.max_response_bytes,
            max_redirects=options.max_redirects,
            rules=self.rules,
            budget=budget,
        )
        self.requests = Requests(fetcher, settings, options, gate)
        self.batcher = PageBatcher(on_pages, size=options.page_batch, seconds=options.batch_seconds)
        self.follow = spec.job_type == "domain_scrape"
        self.links = LinkResolver(self.rules)
        self.robots: dict[str, RobotsRules] = {}
        self.origins: set[str] = set()
        self.seen: set[str] = set()
        """URLs queued, fetched, or redirected through: never fetched (again)."""
        self.recorded: set[str] = set()
        """Final URLs of the pages recorded: one record each."""
        self.spare: dict[str, int] = {}
        """Links found once maxPages was full (URL -> depth), oldest first."""
        self._spare_pages = 0
        self.fetching: set[str] = set()
        """URLs a worker is fetching now: a redirect to one of them is not followed."""
        self.scheduled = 0
        self.frontier: asyncio.PriorityQueue[tuple[int, int, str]] = asyncio.PriorityQueue()
        self.notes: list[str] = []
        self._order = itertools.count()
        self._skipped = 0
        """URLs not fetched because the deadline came first."""

    async def run(self) -> CrawlSummary:
        try:
            url, origin = start_url(self.spec.domain, self.settings.start_url, self.rules)
        except InvalidStartUrl as exc:
            raise CrawlFailed(Failure(ErrorType.INVALID_URL, str(exc))) from exc
        self.origins.add(origin)
        if self.spec.job_type == "sitemap_scrape":
            await self._read_sitemaps(url, origin)
        else:
            await self._start_page(url, origin)
        await self._drain()
        await self.batcher.flush()
        if self._skipped:
            limit = f"maxDuration {self.spec.config.get('maxDuration')} ms"
            skipped = f"{self._skipped} queued URLs not fetched"
            self.notes.append(f"stopped at the deadline ({limit}): {skipped}")
        note = "; ".join(self.notes) or None
        return CrawlSummary(self.batcher.pages, self.batcher.errors, note)

    # -- requests -------------------------------------------------------

    async def _load_robots(self, origin: str) -> RobotsRules:
        """Fetch ``origin``'s robots.txt once; its rules apply when respectRobots.

        When they apply, an unreachable robots.txt fails the attempt (RFC 9309
        2.3.1.4); when they do not (a sitemap_scrape reading its Sitemap lines),
        it reads as no rules.
        """
        get = partial(self.requests.fetch_retrying, start=True)
        try:
            rules = await fetch_robots(get, origin, self.settings.user_agent)
        except RobotsUnreachable as exc:
            if not self.settings.respect_robots:
                return allow_all(self.settings.user_agent)
            if self.requests.past_deadline():
                raise CrawlFailed(exc.failure) from exc
            failure = exc.failure
            message = (
                f"robots.txt of {origin} is unreachable ({failure.message}): "
                "assuming complete disallow (RFC 9309 2.3.1.4)"
            )
            raise CrawlFailed(dataclasses.replace(failure, message=message)) from exc
        if self.settings.respect_robots:
            self.robots[origin] = rules
            self.requests.pacer.at_least(rules.crawl_delay)
            if rules.crawl_delay:  # it holds for every crawl of the site, fleet-wide
                self.requests.gate.crawl_delay(site_of(origin), rules.crawl_delay)
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
            response = await self.requests.fetch_retrying(url, start=True)
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
            partial(self.requests.fetch_retrying, start=True),
            origins=self.origins,
            wanted=lambda page: self._allowed(page, origin_of(page)),
            max_urls=self.settings.max_pages,
            rules=self.rules,
        )
        try:
            urls = await reader.read(sources)
        except FetchFailed as exc:
            raise CrawlFailed(exc.failure) from exc
        self.notes += reader.problems
        for page_url in urls:
            self.seen.add(page_url)
            self._schedule(page_url, 0)

    # -- the frontier ---------------------------------------------------

    def _schedule(self, url: str, depth: int) -> None:
        self.scheduled += 1
        self.frontier.put_nowait((depth, next(self._order), url))

    def _follow_links(self, document: Document, page_url: str, depth: int) -> None:
        """Queue the new same-origin links of a page, at ``depth``, within maxPages.

        Once maxPages is full, the new links of the next MAX_SPARE_PAGES pages
        are kept aside (a few) for the places that duplicate pages give back.
        """
        max_pages, spare = self.settings.max_pages, self.spare
        if self.scheduled >= max_pages:
            if len(spare) >= MAX_SPARE_LINKS or self._spare_pages >= MAX_SPARE_PAGES:
                return
            self._spare_pages += 1
        base = page_url
        if document.base and (resolved := self.links.resolve(page_url, document.base)):
            base = resolved[0]
        seen, origins = self.seen, self.origins
        for url, origin in self.links.resolve_all(base, document.hrefs):
            if url in seen or origin not in origins:
                continue
            if self.scheduled >= max_pages:
                if len(spare) >= MAX_SPARE_LINKS:
                    return
                spare.setdefault(url, depth)
                continue
            seen.add(url)
            if self._allowed(url, origin):
                self._schedule(url, depth)

    def _give_back(self) -> None:
        """A fetch found a page already recorded: its place in maxPages goes to a spare link."""
        self.scheduled -= 1
        while self.spare and self.scheduled < self.settings.max_pages:
            url = next(iter(self.spare))
            depth = self.spare.pop(url)
            if url not in self.seen:
                self.seen.add(url)
                if self._allowed(url, origin_of(url)):
                    self._schedule(url, depth)

    async def _follow_refresh(self, response: Response, depth: int) -> tuple[Response, Recorded]:
        """The response and its record, ``<meta http-equiv="refresh">`` followed like a
        redirect (within the same hop limit); each response is parsed once."""
        page, document = page_of(response, depth)
        while document is not None and document.refresh:
            target = normalise(document.refresh, self.rules)
            chain = (*response.redirects, response.final_url)
            if len(chain) > self.options.max_redirects or target is None:
                break
            if target[0] in chain or not self._allowed(*target):
                break
            try:
                followed = await self.requests.fetch_retrying(target[0])
            except FetchFailed:
                break  # the refreshing page is what there is
            followed.url = response.url
            followed.redirects = chain + followed.redirects
            response = followed
            page, document = page_of(response, depth)
        return response, (page, document)

    async def _record(self, response: Response, depth: int) -> None:
        response, (page, document) = await self._follow_refresh(response, depth)
        self.seen.update(response.redirects)
        final = response.final_url
        self.seen.add(final)
        if final in self.recorded:
            self._give_back()
            return
        self.recorded.add(final)
        if document is not None and self.follow and depth < self.settings.depth:
            self._follow_links(document, final, depth + 1)
        await self.batcher.add(page)

    async def _visit(self, url: str, depth: int) -> None:
        if url in self.recorded:  # a redirect reached it while it waited in the frontier
            self._give_back()
            return
        self.fetching.add(url)
        try:
            response = await self.requests.fetch_retrying(url, known=self._known)
        except AlreadyFetched as exc:  # a redirect to a page recorded, or being fetched
            self.seen.update(exc.hops)
            self._give_back()
            return
        except FetchFailed as exc:
            if self.requests.past_deadline():
                self._skipped += 1  # cut by the deadline: no page, not a page error
                return
            await self.batcher.add(failed_page(url, depth, exc.failure))
        else:
            await self._record(response, depth)
        finally:
            self.fetching.discard(url)

    def _known(self, url: str) -> bool:
        return url in self.recorded or url in self.fetching

    async def _work(self) -> None:
        frontier = self.frontier
        while True:
            depth, _, url = await frontier.get()
            try:
                if self.requests.past_deadline():
                    self._skipped += 1
                else:
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
