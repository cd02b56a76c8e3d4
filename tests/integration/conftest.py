"""Fixtures of the crawler tests: crawlers that may reach loopback, and a scripted site."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from scrapejobs.crawler import Crawler
from tests.crawl_sites import ScriptedSite, serve
from tests.crawling import ALLOW_LOOPBACK, FAST_RETRIES


@pytest.fixture
async def crawler() -> AsyncIterator[Crawler]:
    crawler = Crawler(policy=ALLOW_LOOPBACK, retry_delays=FAST_RETRIES)
    yield crawler
    await crawler.close()


@pytest.fixture
async def no_retry_crawler() -> AsyncIterator[Crawler]:
    """For classification tests: the first failure is final."""
    crawler = Crawler(policy=ALLOW_LOOPBACK, retry_delays=())
    yield crawler
    await crawler.close()


@pytest.fixture
async def site() -> AsyncIterator[ScriptedSite]:
    async with serve() as running:
        yield running
