"""A crawl's limits: its deadline (``maxDuration``), robots.txt as RFC 9309 reads it,
pages over ``maxPageBytes``, meta refreshes, compressed bodies.
"""

from __future__ import annotations

import sys

import brotli
import pytest
from aiohttp import web

from scrapejobs.crawler import Crawler
from scrapejobs.failures import ErrorType
from tests.crawl_sites import Handler, ScriptedSite, content, links, page, statuses
from tests.crawling import crawl, failure_of

if sys.version_info >= (3, 14):
    from compression import zstd  # pragma: no cover
else:
    from backports import zstd

# -- the deadline -----------------------------------------------------------------------


async def test_the_deadline_ends_the_attempt_with_the_pages_it_has(
    crawler: Crawler, site: ScriptedSite
) -> None:
    hanging = [f"/h{n}" for n in range(12)]
    site.routes["/"] = links("/fast", *hanging)
    site.routes["/fast"] = page(title="fast")
    for path in hanging:
        site.routes[path] = site.hang
    result = await crawl(
        crawler,
        site.origin,
        respectRobots=False,
        timeout=3000,
        maxConcurrentRequests=2,
        maxDuration=1000,
    )
    assert sorted(p.url for p in result.pages) == [site.url("/"), site.url("/fast")]
    assert result.summary.errors == 0  # pages cut by the deadline are not page errors
    # Two hanging requests were in flight when the deadline came; no other started.
    assert sum(site.count(path) for path in hanging) == 2
    assert result.summary.note == (
        "stopped at the deadline (maxDuration 1000 ms): 12 queued URLs not fetched"
    )


async def test_a_deadline_before_the_start_page_answers_fails_the_attempt(
    crawler: Crawler, site: ScriptedSite
) -> None:
    site.routes["/"] = site.hang
    failure = await failure_of(
        crawler, site.origin, respectRobots=False, timeout=30000, maxDuration=1000
    )
    assert failure.error_type is ErrorType.TIMEOUT


async def test_no_deadline_no_note(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = links("/a")
    site.routes["/a"] = page()
    result = await crawl(crawler, site.origin, respectRobots=False)
    assert len(result.pages) == 2 and result.summary.note is None


# -- robots.txt ------------------------------------------------------------------------


async def test_a_robots_txt_over_500_kib_is_still_read(
    crawler: Crawler, site: ScriptedSite
) -> None:
    robots = b"User-agent: *\nDisallow: /private\n" + b"# padding\n" * 120_000  # 1.2 MB
    site.routes["/robots.txt"] = content(robots, "text/plain")  # with its Content-Length
    site.routes["/"] = links("/private/a", "/open")
    site.routes["/open"] = page()
    result = await crawl(crawler, site.origin)
    assert {p.url for p in result.pages} == {site.url("/"), site.url("/open")}
    assert "/private/a" not in site.paths()


async def test_a_robots_txt_answering_5xx_means_complete_disallow(
    crawler: Crawler, site: ScriptedSite
) -> None:
    site.routes["/robots.txt"] = statuses(*[503] * 5, headers={"Retry-After": "120"})
    site.routes["/"] = page()
    failure = await failure_of(crawler, site.origin)
    assert failure.error_type is ErrorType.SERVICE_UNAVAILABLE
    assert failure.retry_after == 120
    assert "assuming complete disallow" in failure.message
    assert site.paths() == []  # nothing but robots.txt was asked for


async def test_a_robots_txt_that_does_not_answer_means_complete_disallow(
    crawler: Crawler, site: ScriptedSite
) -> None:
    async def drop(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()  # the connection goes away without an answer
        return web.Response()

    site.routes["/robots.txt"] = drop
    site.routes["/"] = page()
    failure = await failure_of(crawler, site.origin)
    assert failure.error_type is ErrorType.CONNECTION_RESET
    assert site.paths() == []


@pytest.mark.parametrize(("status", "obey"), [(404, True), (403, True), (500, False)])
async def test_a_robots_txt_that_is_missing_or_not_obeyed_allows_the_crawl(
    crawler: Crawler, site: ScriptedSite, status: int, obey: bool
) -> None:
    site.routes["/robots.txt"] = statuses(*[status] * 5)
    site.routes["/"] = page()
    result = await crawl(crawler, site.origin, respectRobots=obey)
    assert [p.url for p in result.pages] == [site.url("/")]


# -- pages over maxPageBytes -------------------------------------------------------------


async def test_a_page_over_max_page_bytes_is_parsed_up_to_it_and_marked(
    crawler: Crawler, site: ScriptedSite
) -> None:
    head = b'<html><head><title>Huge</title></head><body><a href="/near">near</a>'
    huge = head + b"<p>filler</p>" * 80_000 + b'<a href="/far">far</a></body></html>'  # 1 MB
    site.routes["/"] = content(huge, "text/html")
    site.routes["/near"] = page()
    result = await crawl(crawler, site.origin, respectRobots=False, maxPageBytes=16_384)
    record = result.by_url()[site.url("/")]
    assert (record.title, record.truncated, record.error) == ("Huge", True, None)
    assert record.bytes == len(huge)
    assert "/near" in site.paths() and "/far" not in site.paths()
    assert result.by_url()[site.url("/near")].truncated is False


# -- meta refresh --------------------------------------------------------------------------


def refresh(target: str, delay: int = 0) -> Handler:
    return page(head=f'<meta http-equiv="refresh" content="{delay}; url={target}">')


async def test_a_meta_refresh_is_followed_like_a_redirect(
    crawler: Crawler, site: ScriptedSite
) -> None:
    site.routes["/"] = links("/old", "/new")
    site.routes["/old"] = refresh("/new")
    site.routes["/new"] = page(title="new")
    result = await crawl(crawler, site.origin, respectRobots=False, maxConcurrentRequests=1)
    by_final = {p.final_url: p for p in result.pages}
    assert sorted(by_final) == [site.url("/"), site.url("/new")]
    assert by_final[site.url("/new")].title == "new"
    assert by_final[site.url("/new")].url == site.url("/old")
    assert site.count("/new") == 1


async def test_a_slow_or_looping_refresh_is_a_page(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = links("/later", "/a")
    site.routes["/later"] = refresh("/elsewhere", delay=300)
    site.routes["/a"] = refresh("/b")
    site.routes["/b"] = refresh("/a")
    result = await crawl(crawler, site.origin, respectRobots=False, depth=1)
    assert "/elsewhere" not in site.paths()
    assert site.count("/a") == 1 and site.count("/b") == 1
    assert {p.final_url for p in result.pages} == {
        site.url("/"),
        site.url("/later"),
        site.url("/b"),
    }


# -- compressed bodies -----------------------------------------------------------------------


def encoded(body: bytes, encoding: str) -> Handler:
    packed = brotli.compress(body) if encoding == "br" else zstd.compress(body)

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(
            body=packed, content_type="text/html", headers={"Content-Encoding": encoding}
        )

    return handler


@pytest.mark.parametrize("encoding", ["br", "zstd"])
async def test_brotli_and_zstd_bodies_are_decoded(
    crawler: Crawler, site: ScriptedSite, encoding: str
) -> None:
    site.routes["/"] = encoded(b"<html><head><title>packed</title></head></html>", encoding)
    [record] = (await crawl(crawler, site.origin, respectRobots=False)).pages
    assert record.title == "packed"
    accepted = site.hits[0].headers["Accept-Encoding"]
    assert {"gzip", "br", "zstd"} <= {part.strip() for part in accepted.split(",")}
