"""Running the crawler in tests: crawls against local sites, pages collected in memory.

No database: pages are collected from ``on_pages``. The fixtures that go with
these (``crawler``, ``no_retry_crawler``, ``site``) are in
``tests/integration/conftest.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from scrapejobs.crawler import (
    AddressPolicy,
    Crawler,
    CrawlFailed,
    CrawlSpec,
    CrawlSummary,
    Page,
    SiteGate,
)
from scrapejobs.failures import Failure
from scrapejobs.jobs import DEFAULT_CONFIG

__all__ = [
    "ALLOW_LOOPBACK",
    "FAST_RETRIES",
    "Crawl",
    "WaitingCrawler",
    "crawl",
    "failure_of",
    "spec",
]

ALLOW_LOOPBACK = AddressPolicy(allow_private_networks=True)
FAST_RETRIES = (0.01, 0.02)


@dataclass
class Crawl:
    summary: CrawlSummary
    pages: list[Page]
    batches: list[int] = field(default_factory=list)

    def by_url(self) -> dict[str, Page]:
        return {p.url: p for p in self.pages}


def spec(domain: str, job_type: str = "domain_scrape", **config: Any) -> CrawlSpec:
    return CrawlSpec(job_type, domain, {**DEFAULT_CONFIG, "timeout": 5000, **config})


async def crawl(
    crawler: Crawler, domain: str, job_type: str = "domain_scrape", **config: Any
) -> Crawl:
    pages: list[Page] = []
    batches: list[int] = []

    async def store(batch: list[Page]) -> None:
        batches.append(len(batch))
        pages.extend(batch)

    summary = await crawler.crawl(spec(domain, job_type, **config), store)
    assert summary.pages == len(pages)
    return Crawl(summary, pages, batches)


async def failure_of(
    crawler: Crawler, domain: str, job_type: str = "domain_scrape", **config: Any
) -> Failure:
    stored: list[Page] = []

    async def store(batch: list[Page]) -> None:
        stored.extend(batch)

    with pytest.raises(CrawlFailed) as raised:
        await crawler.crawl(spec(domain, job_type, **config), store)
    assert stored == [], "a failed attempt stores no page"
    return raised.value.failure


class WaitingCrawler:
    """What a Worker needs of a Crawler, with no network: a gate, and a crawl that
    only waits ``pause`` seconds (as a crawl mostly does) and stores no page. It counts
    the crawls running at once (``most``: the peak)."""

    def __init__(self, pause: float = 0.0) -> None:
        self.gate = SiteGate()
        self.pause = pause
        self.now = 0
        self.most = 0

    async def crawl(self, spec: CrawlSpec, on_pages: Any) -> CrawlSummary:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(self.pause)
        finally:
            self.now -= 1
        return CrawlSummary(pages=0, errors=0)
