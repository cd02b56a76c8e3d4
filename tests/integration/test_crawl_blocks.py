"""Blocks (anti-bot challenges) met by real crawls of a local site.

A blocked start page fails the attempt as ``blocked`` (no in-crawl retry);
blocked pages deeper are recorded as errors and not followed; when most of a
site's recent responses are blocks the gate tells the fleet.
"""

from __future__ import annotations

import pytest
from aiohttp import web

from scrapejobs.crawler import Crawler
from scrapejobs.crawler.gate import BLOCK_WINDOW
from scrapejobs.failures import ErrorType
from tests.crawl_sites import ScriptedSite, links
from tests.crawling import crawl, failure_of

CHALLENGE = "<html><head><title>Just a moment...</title></head><body></body></html>"


async def challenge(_request: web.Request) -> web.Response:
    return web.Response(
        status=403, text=CHALLENGE, content_type="text/html", headers={"cf-mitigated": "challenge"}
    )


async def interstitial(_request: web.Request) -> web.Response:
    """A 200 that is a challenge: no page of the site, and its links are not followed."""
    body = CHALLENGE.replace("<body>", '<body><a href="/trap">continue</a>')
    return web.Response(text=body, content_type="text/html")


async def test_a_challenged_start_page_fails_the_attempt_as_blocked(
    crawler: Crawler, site: ScriptedSite
) -> None:
    site.routes["/"] = challenge
    failure = await failure_of(crawler, site.origin, respectRobots=False)
    assert failure.error_type is ErrorType.BLOCKED
    assert failure.http_status == 403
    assert failure.message == f"blocked: cloudflare challenge (HTTP 403) at {site.url('/')}"
    assert site.count("/") == 1  # a challenge is not retried in the crawl


async def test_a_200_interstitial_is_a_block_too(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = interstitial
    failure = await failure_of(crawler, site.origin, respectRobots=False)
    assert (failure.error_type, failure.http_status) == (ErrorType.BLOCKED, 200)


async def test_blocked_pages_deeper_are_recorded_and_not_followed(
    crawler: Crawler, site: ScriptedSite
) -> None:
    site.routes["/"] = links("/ok", "/wall")
    site.routes["/wall"] = interstitial
    result = await crawl(crawler, site.origin, respectRobots=False)
    pages = result.by_url()
    assert pages[site.url("/wall")].error == "blocked (HTTP 200)"
    assert pages[site.url("/wall")].links == 0
    assert site.count("/trap") == 0


@pytest.mark.parametrize(("blocked_every", "reported"), [(3, False), (1.5, True)])
async def test_a_site_that_blocks_most_requests_is_reported_to_the_fleet(
    crawler: Crawler, site: ScriptedSite, blocked_every: float, reported: bool
) -> None:
    """Two in three responses blocked: reported; one in three: not."""
    reports: list[tuple[str, str]] = []
    crawler.gate.on_blocked = lambda name, why: reports.append((name, why))
    site.routes["/"] = links(*(f"/p{n}" for n in range(2 * BLOCK_WINDOW)))
    for n in range(2 * BLOCK_WINDOW):
        blocked = int(n / blocked_every) != int((n + 1) / blocked_every)
        site.routes[f"/p{n}"] = interstitial if blocked else links()
    await crawl(crawler, site.origin, respectRobots=False)
    assert bool(reports) is reported
    if reported:
        name, why = reports[0]
        assert name == site.origin.removeprefix("http://")
        assert why.endswith(
            f"of the last {BLOCK_WINDOW} responses were blocks (cloudflare challenge)"
        )
