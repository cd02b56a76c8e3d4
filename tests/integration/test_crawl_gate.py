"""A site held back for every crawl of one Crawler (one worker process).

Two crawls of one site run side by side in one Crawler; a ``Retry-After``
heard by either holds both. Timing assertions are windows in which the site
must have received nothing, measured on the server's clock of arrivals.
"""

from __future__ import annotations

import asyncio
import math

import pytest
from aiohttp import web

from scrapejobs.crawler import Crawler, SiteHeld
from scrapejobs.failures import ErrorType, Failure
from tests.crawl_sites import Handler, ScriptedSite, links, page
from tests.crawling import crawl

A_PAGES, B_PAGES = 10, 60


def once_429(retry_after: int, seen: list[float]) -> Handler:
    """A 429 with ``Retry-After`` the first time (noting when), a page after."""

    async def handler(_request: web.Request) -> web.Response:
        if not seen:
            seen.append(asyncio.get_running_loop().time())
            return web.Response(status=429, headers={"Retry-After": str(retry_after)})
        return web.Response(text="<title>ok</title>", content_type="text/html")

    return handler


async def slow(_request: web.Request) -> web.Response:
    await asyncio.sleep(0.05)
    return web.Response(text="<title>slow</title>", content_type="text/html")


async def test_a_retry_after_heard_by_one_crawl_holds_the_other(
    crawler: Crawler, site: ScriptedSite
) -> None:
    limited: list[float] = []
    heard: list[tuple[str, Failure]] = []
    crawler.gate.on_heard = lambda name, failure: heard.append((name, failure))
    # A's last link answers 429 once, while B is still crawling.
    site.routes["/a/"] = links(*(f"/a/{n}" for n in range(A_PAGES)), "/a/limited")
    site.routes["/a/limited"] = once_429(2, limited)
    site.routes["/b/"] = links(*(f"/b/{n}" for n in range(B_PAGES)))
    for n in range(B_PAGES):
        site.routes[f"/a/{n}"] = slow
        site.routes[f"/b/{n}"] = slow
    first, second = await asyncio.gather(
        crawl(crawler, site.origin, startUrl=site.url("/a/"), maxConcurrentRequests=1),
        crawl(crawler, site.origin, startUrl=site.url("/b/"), maxConcurrentRequests=1),
    )
    assert len(first.pages) == A_PAGES + 2 and len(second.pages) == B_PAGES + 1
    assert site.hits[-1].path.startswith("/b/")  # B was still crawling after the 429
    [t0] = limited
    quiet = [hit for hit in site.hits if t0 + 0.2 < hit.at < t0 + 1.9]
    assert quiet == [], "a crawl sent requests while its site cooled down"
    [(name, failure)] = heard
    assert name == site.origin.removeprefix("http://")
    assert (failure.error_type, failure.retry_after) == (ErrorType.RATE_LIMITED, 2)


async def test_a_long_hold_ends_the_crawl_with_site_held(
    crawler: Crawler, site: ScriptedSite
) -> None:
    site.routes["/"] = links("/x", "/y")
    site.routes["/x"] = page()
    crawler.gate.hold(site.origin.removeprefix("http://"), math.inf, "paused by an operator")
    with pytest.raises(SiteHeld) as held:
        await crawl(crawler, site.origin, respectRobots=False)
    assert held.value.reason == "paused by an operator"
    assert math.isinf(held.value.seconds)
    assert site.hits == []
    crawler.gate.let_go(site.origin.removeprefix("http://"))
    result = await crawl(crawler, site.origin, respectRobots=False)
    assert len(result.pages) == 3  # /, /x and /y (a 404 page)
