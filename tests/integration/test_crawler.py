"""The crawler against real servers on loopback, one scripted behaviour per site.

No database: pages are collected from ``on_pages``. Every crawler here
allows private networks (the servers are on 127.0.0.1) except in the SSRF
tests, which use the default policy and assert that the target server
received no request at all. Timing assertions are lower bounds only
(politeness gaps), never upper bounds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import ipaddress
import itertools
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.resolver import ThreadedResolver

from scrapejobs.crawler import (
    AddressPolicy,
    BlockedAddress,
    Crawler,
    CrawlSummary,
    Page,
)
from scrapejobs.crawler.guard import GuardedResolver
from scrapejobs.crawler.urls import LinkResolver, normalise
from scrapejobs.failures import ErrorType
from tests.crawl_sites import (
    ScriptedSite,
    closed_port,
    content,
    depth_counts,
    links,
    page,
    raw_server,
    read_request,
    redirect,
    reset_after_request,
    serve,
    statuses,
    tree_site,
)
from tests.crawling import ALLOW_LOOPBACK, FAST_RETRIES, crawl, failure_of, spec


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


# -- depth, maxPages, links ------------------------------------------------------


async def test_depth_limits_the_crawl_and_depths_are_recorded(crawler: Crawler) -> None:
    tree, depths = tree_site(fanout=3, depth=3)
    async with serve(tree) as site:
        result = await crawl(crawler, site.origin, depth=2, maxPages=1000)
    assert depth_counts(p.depth for p in result.pages) == {0: 1, 1: 3, 2: 9}
    for found in result.pages:
        path = found.url.removeprefix(site.origin)
        assert found.depth == depths[path]
        assert found.status == 200 and found.error is None
    assert sorted(site.paths()) == sorted(set(site.paths())), "each page fetched once"
    assert result.summary == CrawlSummary(pages=13, errors=0)


async def test_depth_zero_is_the_start_page_alone(crawler: Crawler) -> None:
    tree, _ = tree_site(fanout=3, depth=2)
    async with serve(tree) as site:
        result = await crawl(crawler, site.origin, depth=0)
    assert [p.url for p in result.pages] == [site.url("/")]


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_max_pages_is_exact(crawler: Crawler, concurrency: int) -> None:
    tree, _ = tree_site(fanout=3, depth=3)  # 40 pages
    async with serve(tree) as site:
        result = await crawl(
            crawler, site.origin, depth=3, maxPages=7, maxConcurrentRequests=concurrency
        )
    assert len(result.pages) == 7
    assert len(site.paths()) == 7, "no page beyond maxPages is even requested"
    if concurrency == 1:  # one worker: strictly breadth-first
        assert depth_counts(p.depth for p in result.pages) == {0: 1, 1: 3, 2: 3}


async def test_links_are_normalised_and_deduplicated(crawler: Crawler, site: ScriptedSite) -> None:
    hrefs = [
        "/a",
        "/a#section",
        f"{site.origin}/a",
        f"HTTP://127.0.0.1:{site.port}/a",
        "./a",
        "dir/../a",
        "  /a  ",
        "/q?x=1",
        "/q?x=1#frag",
        "/q?x=2",
        "/dir/",
        "mailto:someone@example.com",
        "javascript:void(0)",
        "tel:+15555550100",
        "data:text/html,hello",
        "#top",
        "http://other.invalid/elsewhere",
        f"https://127.0.0.1:{site.port}/a",  # another scheme is another origin
    ]
    site.routes["/"] = links(*hrefs)
    site.routes["/a"] = links("/", "a")
    site.routes["/q"] = page("query page")
    site.routes["/dir/"] = links("x", "../a", head='<base href="/based/">')
    site.routes["/based/x"] = page("based")
    result = await crawl(crawler, site.origin, depth=3)
    assert sorted(site.paths()) == ["/", "/a", "/based/x", "/dir/", "/q", "/q"]
    assert sorted(hit.query for hit in site.hits if hit.path == "/q") == ["x=1", "x=2"]
    assert set(result.by_url()) == {
        site.url(path) for path in ("/", "/a", "/q?x=1", "/q?x=2", "/dir/", "/based/x")
    }
    assert result.by_url()[site.url("/")].links == len(hrefs), "links counts every a[href]"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a#frag", "http://example.com/a"),
        ("https://example.com:443/a?b=1", "https://example.com/a?b=1"),
        ("https://example.com:8443", "https://example.com:8443/"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/a b", "http://example.com/a%20b"),
        ("http://user:secret@example.com/", "http://example.com/"),
        ("http://[::1]:80/", "http://[::1]/"),
        ("http://Bücher.example/", "http://xn--bcher-kva.example/"),
        ("ftp://example.com/", None),
        ("mailto:a@example.com", None),
        ("http://example.com:99999/", None),
        ("http:///path", None),
    ],
)
def test_normalisation(url: str, expected: str | None) -> None:
    normal = normalise(url)
    assert (normal[0] if normal else None) == expected


def test_link_resolution_against_the_page_and_its_cache() -> None:
    resolver = LinkResolver()
    base = "http://example.com/dir/page.html?x=1"
    found = resolver.resolve_all(base, ["sub", "../up", "?y=2", "", "//cdn.example/x", "#f"])
    assert [url for url, _ in found] == [
        "http://example.com/dir/sub",
        "http://example.com/up",
        "http://example.com/dir/page.html?y=2",
        "http://example.com/dir/page.html?x=1",
        "http://cdn.example/x",
    ]
    other = "http://example.com/dir/other.html"
    assert resolver.resolve(other, "sub") == ("http://example.com/dir/sub", "http://example.com")
    assert resolver.resolve(other, "") == (
        "http://example.com/dir/other.html",
        "http://example.com",
    )


# -- robots.txt, politeness --------------------------------------------------------

ROBOTS = "User-agent: *\nDisallow: /private\nCrawl-delay: 0.3\n"


def robots_site(site: ScriptedSite, robots: str = ROBOTS) -> None:
    site.routes["/robots.txt"] = content(robots.encode(), "text/plain")
    site.routes["/"] = links("/a", "/b", "/private/x")
    for path in ("/a", "/b", "/private/x"):
        site.routes[path] = page(path)


async def test_robots_rules_and_crawl_delay_are_obeyed(
    crawler: Crawler, site: ScriptedSite
) -> None:
    robots_site(site)
    result = await crawl(crawler, site.origin, userAgent="scrapejobs-test/1.0", delay=0)
    assert site.paths(robots=True)[0] == "/robots.txt"
    assert site.count("/robots.txt") == 1
    assert sorted(site.paths()) == ["/", "/a", "/b"]
    assert len(result.pages) == 3
    assert all(gap >= 0.28 for gap in gaps(site.times())), gaps(site.times())
    assert {hit.headers["User-Agent"] for hit in site.hits} == {"scrapejobs-test/1.0"}


async def test_robots_groups_match_the_user_agent(crawler: Crawler, site: ScriptedSite) -> None:
    robots_site(site, "User-agent: scrapejobs\nDisallow: /a\n\nUser-agent: *\nDisallow: /\n")
    await crawl(crawler, site.origin, userAgent="scrapejobs/0.1 (+https://example.com)")
    assert sorted(site.paths()) == ["/", "/b", "/private/x"]


async def test_robots_ignored_when_not_respected(crawler: Crawler, site: ScriptedSite) -> None:
    robots_site(site, "User-agent: *\nDisallow: /\nCrawl-delay: 30\n")
    result = await crawl(crawler, site.origin, respectRobots=False)
    assert site.count("/robots.txt") == 0
    assert sorted(site.paths()) == ["/", "/a", "/b", "/private/x"]
    assert len(result.pages) == 4


async def test_delay_spaces_requests(crawler: Crawler, site: ScriptedSite) -> None:
    robots_site(site, "")
    await crawl(crawler, site.origin, delay=200, maxConcurrentRequests=4)
    assert all(gap >= 0.18 for gap in gaps(site.times(robots=True))), gaps(site.times())


async def test_start_url_disallowed_by_robots(crawler: Crawler, site: ScriptedSite) -> None:
    robots_site(site, "User-agent: *\nDisallow: /\n")
    failure = await failure_of(crawler, site.origin)
    assert failure.error_type is ErrorType.ROBOTS_DISALLOWED
    assert site.paths(robots=True) == ["/robots.txt"]


async def test_a_429_deeper_in_the_crawl_slows_it_down_and_it_recovers(
    crawler: Crawler, site: ScriptedSite
) -> None:
    """1 s after the 429, then 0.67 s, 0.5 s, ... (pacing.py's AIMD), then unpaced."""
    pages = [f"/p{n}" for n in range(25)]
    site.routes["/"] = links("/a", *pages)
    site.routes["/a"] = statuses(429)
    for path in pages:
        site.routes[path] = page()
    result = await crawl(crawler, site.origin, maxConcurrentRequests=1, respectRobots=False)
    assert result.by_url()[site.url("/a")].status == 200, "retried in-crawl"
    after = gaps(site.times()[site.paths().index("/a") :])
    assert len(after) == 1 + len(pages)  # /a again, then the pages
    assert after[0] >= 0.95, after  # the in-crawl retry waits the slowed pace
    assert after[1] >= 0.6 and after[2] >= 0.45, after  # speeding up step by step
    assert after[1] < after[0] and after[2] < after[1], after
    assert all(gap < 0.09 for gap in after[-5:]), after  # unpaced again


# -- failures of the start URL, classified -----------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (503, ErrorType.SERVICE_UNAVAILABLE),
        (500, ErrorType.SERVER_ERROR),
        (502, ErrorType.SERVER_ERROR),
        (429, ErrorType.RATE_LIMITED),
        (403, ErrorType.FORBIDDEN),
        (401, ErrorType.UNAUTHORIZED),
        (404, ErrorType.NOT_FOUND),
        (410, ErrorType.NOT_FOUND),
        (418, ErrorType.UNKNOWN),
    ],
)
async def test_start_url_http_errors(
    no_retry_crawler: Crawler, site: ScriptedSite, status: int, error_type: ErrorType
) -> None:
    site.routes["/"] = statuses(status)
    failure = await failure_of(no_retry_crawler, site.origin, respectRobots=False)
    assert failure.error_type is error_type
    assert failure.http_status == status
    assert failure.retry_after is None
    assert failure.message == f"HTTP {status} from {site.url('/')}"


@pytest.mark.parametrize(("status", "tries"), [(500, 3), (404, 1), (403, 1)])
async def test_only_transient_errors_are_retried_in_crawl(
    crawler: Crawler, site: ScriptedSite, status: int, tries: int
) -> None:
    site.routes["/"] = statuses(*[status] * 5)
    failure = await failure_of(crawler, site.origin, respectRobots=False)
    assert failure.http_status == status
    assert site.count("/") == tries


async def test_start_url_retried_in_crawl_then_fine(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = statuses(502, 500)
    result = await crawl(crawler, site.origin, respectRobots=False)
    assert [(p.status, p.error) for p in result.pages] == [(200, None)]
    assert site.count("/") == 3


async def test_retry_after_in_seconds_beyond_the_in_crawl_cap(site: ScriptedSite) -> None:
    crawler = Crawler(policy=ALLOW_LOOPBACK, retry_delays=FAST_RETRIES, max_retry_wait=5)
    site.routes["/"] = statuses(429, 429, 429, headers={"Retry-After": "7"})
    try:
        failure = await failure_of(crawler, site.origin, respectRobots=False)
    finally:
        await crawler.close()
    assert failure.error_type is ErrorType.RATE_LIMITED
    assert failure.retry_after == 7.0
    assert site.count("/") == 1, "the job-level retry waits, not the worker"


async def test_retry_after_as_an_http_date(crawler: Crawler, site: ScriptedSite) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    site.routes["/"] = statuses(503, 503, 503, headers={"Retry-After": when})
    failure = await failure_of(crawler, site.origin, respectRobots=False)
    assert failure.error_type is ErrorType.SERVICE_UNAVAILABLE
    assert failure.retry_after is not None and 100 < failure.retry_after <= 121


@pytest.mark.parametrize("value", ["soon", "-5", "Wed, 01 Jan 2020 00:00:00 GMT", ""])
async def test_garbage_or_past_retry_after_is_ignored(
    no_retry_crawler: Crawler, site: ScriptedSite, value: str
) -> None:
    site.routes["/"] = statuses(429, headers={"Retry-After": value})
    failure = await failure_of(no_retry_crawler, site.origin, respectRobots=False)
    assert (failure.error_type, failure.retry_after) == (ErrorType.RATE_LIMITED, None)


async def test_retry_after_is_waited_in_crawl(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = statuses(503, headers={"Retry-After": "1"})
    result = await crawl(crawler, site.origin, respectRobots=False)
    assert result.pages[0].status == 200
    assert gaps(site.times())[0] >= 0.95


async def test_timeout(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = site.hang
    failure = await failure_of(crawler, site.origin, timeout=200, respectRobots=False)
    assert failure.error_type is ErrorType.TIMEOUT
    assert site.count("/") == 3


async def test_connection_refused(crawler: Crawler) -> None:
    port = closed_port()
    failure = await failure_of(crawler, f"http://127.0.0.1:{port}", respectRobots=False)
    assert failure.error_type is ErrorType.CONNECTION_REFUSED
    # The system's reason, without aiohttp's "Cannot connect to host ... ssl:default".
    assert failure.message == (
        f"connection refused by http://127.0.0.1:{port}/: Connect call failed ('127.0.0.1', {port})"
    )


async def test_connection_reset(crawler: Crawler) -> None:
    requests: list[bytes] = []
    async with raw_server(reset_after_request(requests)) as origin:
        failure = await failure_of(crawler, origin, respectRobots=False)
    assert failure.error_type is ErrorType.CONNECTION_RESET
    # Three tries (aiohttp itself re-sends once more each, for stale keep-alive connections).
    assert len(requests) in (3, 6)
    assert requests[0].startswith(b"GET / HTTP/1.1")


async def test_dns_resolution(crawler: Crawler) -> None:
    failure = await failure_of(crawler, "http://no-such-host.invalid")
    assert failure.error_type is ErrorType.DNS_RESOLUTION


@pytest.mark.parametrize(
    ("domain", "start_url"),
    [
        ("example.com", "ftp://example.com/"),
        ("example.com", "http://"),
        ("example.com", "http://exa mple.com/"),
        ("example.com", "http://example.com:99999/"),
        ("exa mple.com", None),
    ],
)
async def test_invalid_url(crawler: Crawler, domain: str, start_url: str | None) -> None:
    failure = await failure_of(crawler, domain, startUrl=start_url)
    assert failure.error_type is ErrorType.INVALID_URL


async def test_unknown_job_type_is_a_bug_not_a_failure(crawler: Crawler) -> None:
    with pytest.raises(ValueError, match="unknown job type"):
        await crawler.crawl(spec("example.com", "mirror_scrape"), _discard)


async def _discard(_pages: list[Page]) -> None:
    return None


# -- failures deeper in the crawl ----------------------------------------------------


async def test_deep_failures_are_recorded_not_raised(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = links("/missing", "/boom", "/slow", "/flaky", "/gone")
    site.routes["/boom"] = statuses(*[500] * 9)
    site.routes["/slow"] = site.hang
    site.routes["/flaky"] = statuses(502)
    site.routes["/gone"] = statuses(410)
    result = await crawl(crawler, site.origin, timeout=300, respectRobots=False)
    errors = {p.url.removeprefix(site.origin): (p.status, p.error) for p in result.pages}
    assert errors == {
        "/": (200, None),
        "/missing": (404, "HTTP 404"),
        "/boom": (500, "HTTP 500"),
        "/slow": (None, "timeout"),
        "/flaky": (200, None),
        "/gone": (410, "HTTP 410"),
    }
    assert result.summary == CrawlSummary(pages=6, errors=4)
    assert (site.count("/boom"), site.count("/slow"), site.count("/missing")) == (3, 3, 1)


# -- responses -----------------------------------------------------------------------


async def test_page_record(crawler: Crawler, site: ScriptedSite) -> None:
    body = (
        "<h1>Hello\x00 there</h1>\n\n  <p>Some   <b>text</b></p>"
        "<script>var hidden = 1;</script><style>p { color: red }</style>"
        '<a href="/x">x</a><a href="mailto:a@b.c">m</a><a name="anchor">no href</a>'
    )
    title = "  The \x00Title\n"
    site.routes["/"] = page(body, title=title)
    result = await crawl(crawler, site.origin, depth=0, respectRobots=False)
    [record] = result.pages
    assert record.title is not None and record.text is not None
    assert "\x00" not in record.title + record.text, "PostgreSQL refuses NUL"
    assert record.title.replace("\ufffd", "") == "The Title"
    assert record.text == "Hello there Some text x m no href"
    assert record.links == 2
    assert record.content_type == "text/html; charset=utf-8"
    assert record.bytes == len(site_body(body, title))
    assert record.fetched_at.tzinfo is not None
    assert record.fetched_at.utcoffset() == timedelta(0)
    assert (record.url, record.final_url, record.status) == (site.url("/"), site.url("/"), 200)
    assert record.as_dict() == dataclasses.asdict(record)


def site_body(body: str, title: str) -> bytes:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()


@pytest.mark.parametrize(
    ("content_type", "body", "title"),
    [
        ("text/html; charset=iso-8859-1", "<title>caf\xe9</title>".encode("latin-1"), "caf\xe9"),
        (
            "text/html",
            '<meta charset="windows-1252"><title>caf\xe9</title>'.encode("cp1252"),
            "caf\xe9",
        ),
        ("text/html", "<title>caf\xe9</title>".encode(), "caf\xe9"),
        ("text/html; charset=x-no-such-charset", "<title>caf\xe9</title>".encode(), "caf\xe9"),
        # Unlabelled and not UTF-8: windows-1252, as browsers read it.
        ("text/html", b"<title>caf\xe9</title>", "caf\xe9"),
    ],
)
async def test_charsets(
    crawler: Crawler, site: ScriptedSite, content_type: str, body: bytes, title: str
) -> None:
    site.routes["/"] = content(body, content_type)
    result = await crawl(crawler, site.origin, respectRobots=False)
    assert result.pages[0].title == title


async def test_non_html_is_recorded_but_not_parsed(crawler: Crawler, site: ScriptedSite) -> None:
    data = b'{"html": "<a href=\\"/hidden\\">x</a><title>no</title>"}'
    site.routes["/"] = links("/data.json", "/image.png")
    site.routes["/data.json"] = content(data, "application/json")
    site.routes["/image.png"] = content(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png")
    result = await crawl(crawler, site.origin, respectRobots=False)
    record = result.by_url()[site.url("/data.json")]
    assert (record.status, record.content_type, record.bytes) == (
        200,
        "application/json",
        len(data),
    )
    assert (record.title, record.text, record.links, record.error) == (None, None, 0, None)
    assert result.by_url()[site.url("/image.png")].bytes == 108
    assert "/hidden" not in site.paths()


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_page_over_the_cap_is_parsed_as_far_as_the_cap(
    site: ScriptedSite, chunked: bool
) -> None:
    """Whatever its Content-Length says: the first bytes are read, parsed, and marked."""
    crawler = Crawler(policy=ALLOW_LOOPBACK, max_response_bytes=4096)
    big = ("<html><head><title>Big</title></head><body>" + '<a href="/far">x</a>' * 500).encode()
    site.routes["/"] = links("/big")
    site.routes["/big"] = content(big + b"</body></html>", "text/html", chunked=chunked)
    site.routes["/far"] = page()
    try:
        result = await crawl(crawler, site.origin, respectRobots=False)
    finally:
        await crawler.close()
    record = result.by_url()[site.url("/big")]
    assert (record.status, record.error, record.truncated) == (200, None, True)
    assert record.title == "Big" and record.links > 100
    assert record.bytes >= 4096
    assert not result.by_url()[site.url("/")].truncated
    assert "/far" in site.paths()  # a link within the first 4 KiB
    assert result.summary.errors == 0


async def test_redirects_are_followed(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = links("/old")
    site.routes["/old"] = redirect("/new", 301)
    site.routes["/new"] = links("/old", "/new", title="new")
    result = await crawl(crawler, site.origin, respectRobots=False)
    record = result.by_url()[site.url("/old")]
    assert (record.final_url, record.status, record.title) == (site.url("/new"), 200, "new")
    assert site.count("/new") == 1, "the final URL counts as seen"


async def test_too_many_redirects(site: ScriptedSite) -> None:
    crawler = Crawler(policy=ALLOW_LOOPBACK, max_redirects=3)

    async def loop(request: web.Request) -> web.Response:
        step = int(request.query.get("n", "0"))
        return web.Response(status=302, headers={"Location": f"/loop?n={step + 1}"})

    site.routes["/loop"] = loop
    try:
        failure = await failure_of(crawler, site.origin, startUrl=site.url("/loop"))
    finally:
        await crawler.close()
    assert failure.error_type is ErrorType.UNKNOWN
    assert "too many redirects" in failure.message
    assert site.count("/loop") == 4


async def test_start_redirect_to_another_origin_is_crawled_there(crawler: Crawler) -> None:
    async with serve() as first, serve(host="127.0.0.2") as second:
        first.routes["/"] = redirect(second.url("/home"))
        second.routes["/home"] = links("/next", first.url("/back"), "http://other.invalid/")
        second.routes["/next"] = page("next")
        first.routes["/back"] = page("back")
        result = await crawl(crawler, first.origin, respectRobots=False)
    assert sorted(p.final_url for p in result.pages) == sorted(
        [second.url("/home"), second.url("/next"), first.url("/back")]
    ), "links are followed on both the start origin and the one it redirected to"


async def test_start_url_overrides_the_domain(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/start"] = links("/a")
    site.routes["/a"] = page()
    result = await crawl(crawler, "unused.invalid", startUrl=site.url("/start"))
    assert [p.url for p in result.pages] == [site.url("/start"), site.url("/a")]


async def test_page_scrape_follows_no_link(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/"] = links("/a", "/b")
    result = await crawl(crawler, site.origin, "page_scrape")
    assert [p.url for p in result.pages] == [site.url("/")]
    assert site.paths() == ["/"]


# -- sitemaps ------------------------------------------------------------------------


def urlset(*urls: str) -> bytes:
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    return f'<?xml version="1.0"?><urlset xmlns="x">{entries}</urlset>'.encode()


async def test_sitemap_scrape(crawler: Crawler, site: ScriptedSite) -> None:
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/sm1.xml')}</loc></sitemap>"
        f"<sitemap><loc><![CDATA[{site.url('/sm2.xml.gz')}]]></loc></sitemap>"
        "</sitemapindex>"
    ).encode()
    robots = f"User-agent: *\nDisallow: /private\nSitemap: {site.url('/index.xml')}\n"
    site.routes["/robots.txt"] = content(robots.encode(), "text/plain")
    site.routes["/index.xml"] = content(index, "application/xml")
    first = urlset(site.url("/p1"), site.url("/p2?a=1&amp;b=2"), site.url("/p1#again"))
    site.routes["/sm1.xml"] = content(first, "application/xml")
    second = urlset(site.url("/p3"), site.url("/private/p4"), "http://other.invalid/p5")
    site.routes["/sm2.xml.gz"] = content(gzip.compress(second), "application/octet-stream")
    for path in ("/p1", "/p2", "/p3"):
        site.routes[path] = links("/not-followed")
    result = await crawl(crawler, site.origin, "sitemap_scrape", maxConcurrentRequests=2)
    assert sorted(p.url for p in result.pages) == [
        site.url("/p1"),
        site.url("/p2?a=1&b=2"),
        site.url("/p3"),
    ]
    assert {p.depth for p in result.pages} == {0}
    assert "/not-followed" not in site.paths()
    assert "/private/p4" not in site.paths()


async def test_sitemap_scrape_from_a_start_url(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/maps/pages.xml"] = content(urlset(site.url("/p1")), "application/xml")
    site.routes["/p1"] = page()
    result = await crawl(
        crawler, "unused.invalid", "sitemap_scrape", startUrl=site.url("/maps/pages.xml")
    )
    assert [p.url for p in result.pages] == [site.url("/p1")]
    assert "/sitemap.xml" not in site.paths()


async def test_sitemap_scrape_respects_max_pages(crawler: Crawler, site: ScriptedSite) -> None:
    site.routes["/sitemap.xml"] = content(
        urlset(*(site.url(f"/p{n}") for n in range(10))), "text/xml"
    )
    for n in range(10):
        site.routes[f"/p{n}"] = page()
    result = await crawl(crawler, site.origin, "sitemap_scrape", maxPages=4)
    assert len(result.pages) == 4
    assert sorted(site.paths()) == ["/p0", "/p1", "/p2", "/p3", "/sitemap.xml"]


@pytest.mark.parametrize(
    ("handler_status", "error_type"),
    [(404, ErrorType.NOT_FOUND), (500, ErrorType.SERVER_ERROR), (200, ErrorType.NOT_FOUND)],
)
async def test_sitemap_scrape_fails_when_no_sitemap_can_be_read(
    crawler: Crawler, site: ScriptedSite, handler_status: int, error_type: ErrorType
) -> None:
    site.routes["/sitemap.xml"] = statuses(*[handler_status] * 3)  # 200: an HTML page
    failure = await failure_of(crawler, site.origin, "sitemap_scrape")
    assert failure.error_type is error_type


# -- batches, cancellation -------------------------------------------------------------


async def test_pages_are_handed_over_in_batches(site: ScriptedSite) -> None:
    crawler = Crawler(policy=ALLOW_LOOPBACK, page_batch=3, batch_seconds=60)
    site.routes["/"] = links(*(f"/p{n}" for n in range(7)))
    for n in range(7):
        site.routes[f"/p{n}"] = page()
    try:
        result = await crawl(crawler, site.origin, respectRobots=False)
    finally:
        await crawler.close()
    assert result.batches == [3, 3, 2]


async def test_slow_crawls_hand_pages_over_by_time(site: ScriptedSite) -> None:
    crawler = Crawler(policy=ALLOW_LOOPBACK, page_batch=100, batch_seconds=0.05)
    site.routes["/"] = links("/a", "/b")
    site.routes["/a"] = page()
    site.routes["/b"] = page()
    try:
        result = await crawl(crawler, site.origin, respectRobots=False, delay=300)
    finally:
        await crawler.close()
    assert len(result.batches) >= 2


async def test_a_slow_store_loses_no_page(site: ScriptedSite) -> None:
    crawler = Crawler(policy=ALLOW_LOOPBACK, page_batch=100, batch_seconds=0.01)
    site.routes["/"] = links(*(f"/p{n}" for n in range(20)))
    for n in range(20):
        site.routes[f"/p{n}"] = page()
    stored: list[Page] = []

    async def slow_store(batch: list[Page]) -> None:
        await asyncio.sleep(0.05)
        stored.extend(batch)

    try:
        for _ in range(3):
            stored.clear()
            summary = await crawler.crawl(spec(site.origin, respectRobots=False), slow_store)
            assert summary.pages == len(stored) == 21
    finally:
        await crawler.close()


async def test_a_failing_store_ends_the_crawl_unchanged(site: ScriptedSite) -> None:
    crawler = Crawler(policy=ALLOW_LOOPBACK, page_batch=2)
    tree, _ = tree_site(fanout=3, depth=2)
    site.routes.update(tree.routes)
    calls = 0

    async def broken(_pages: list[Page]) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("store is down")

    try:
        with pytest.raises(RuntimeError, match="store is down"):
            await crawler.crawl(spec(site.origin, respectRobots=False), broken)
    finally:
        await crawler.close()
    assert calls == 1
    assert len(site.paths()) < 13, "the crawl stopped early"
    assert _crawl_tasks() == []


def _crawl_tasks() -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [
        task
        for task in asyncio.all_tasks()
        if task is not current and ("CrawlRun" in repr(task) or "PageBatcher" in repr(task))
    ]


async def test_cancelling_the_start_request_closes_its_connection(crawler: Crawler) -> None:
    got_request, disconnected = asyncio.Event(), asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        got_request.set()
        await reader.read()  # b"" once the client closes the connection
        disconnected.set()
        writer.close()

    async with raw_server(hold) as origin:
        task = asyncio.create_task(crawler.crawl(spec(origin, respectRobots=False), _discard))
        await asyncio.wait_for(got_request.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(disconnected.wait(), 5)


async def test_cancelling_a_running_crawl_stops_its_workers(
    crawler: Crawler, site: ScriptedSite
) -> None:
    site.routes["/"] = links("/h1", "/h2", "/h3")
    for path in ("/h1", "/h2", "/h3"):
        site.routes[path] = site.hang
    task = asyncio.create_task(
        crawler.crawl(spec(site.origin, respectRobots=False, maxConcurrentRequests=3), _discard)
    )
    while len(site.paths()) < 4:
        site.arrived.clear()
        await asyncio.wait_for(site.arrived.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _crawl_tasks() == []


# -- SSRF (CONTRACT 8) -----------------------------------------------------------------

SSRF_STARTS: list[tuple[str, Callable[[int], str]]] = [
    ("ip literal", lambda port: f"http://127.0.0.1:{port}/"),
    ("host name", lambda port: f"http://localhost:{port}/"),
    ("decimal", lambda port: f"http://2130706433:{port}/"),
    ("hex", lambda port: f"http://0x7f000001:{port}/"),
    ("octal", lambda port: f"http://0177.0.0.1:{port}/"),
    ("short", lambda port: f"http://127.1:{port}/"),
    ("ipv4-mapped ipv6", lambda port: f"http://[::ffff:127.0.0.1]:{port}/"),
]


@pytest.mark.parametrize(("name", "start"), SSRF_STARTS, ids=[name for name, _ in SSRF_STARTS])
async def test_loopback_is_refused_by_default(
    site: ScriptedSite, name: str, start: Callable[[int], str]
) -> None:
    crawler = Crawler()
    site.routes["/"] = page()
    try:
        failure = await failure_of(crawler, "example.com", startUrl=start(site.port))
    finally:
        await crawler.close()
    assert failure.error_type is ErrorType.INVALID_URL
    assert "blocked address" in failure.message
    assert site.hits == []


async def test_ipv6_loopback_is_refused_by_default() -> None:
    crawler = Crawler()
    async with serve(host="::1") as site:
        site.routes["/"] = page()
        try:
            failure = await failure_of(crawler, site.origin)
        finally:
            await crawler.close()
    assert failure.error_type is ErrorType.INVALID_URL
    assert "blocked address ::1 (loopback)" in failure.message
    # It says how to allow it: a retry alone would fail the same way.
    assert "--allow-private-networks" in failure.message
    assert "SCRAPEJOBS_ALLOW_PRIVATE_NETWORKS=1" in failure.message
    assert site.hits == []


async def test_redirects_to_blocked_addresses_are_refused() -> None:
    crawler = Crawler(
        policy=AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    )
    async with serve() as allowed, serve(host="127.0.0.2") as target:
        target.routes["/"] = page("secret")
        allowed.routes["/"] = redirect(target.url("/"))
        allowed.routes["/deep"] = links("/go")
        allowed.routes["/go"] = redirect(target.url("/"))
        try:
            failure = await failure_of(crawler, allowed.origin, respectRobots=False)
            result = await crawl(crawler, allowed.origin, startUrl=allowed.url("/deep"))
        finally:
            await crawler.close()
    assert failure.error_type is ErrorType.INVALID_URL
    assert "blocked address 127.0.0.2" in failure.message
    go = result.by_url()[allowed.url("/go")]
    assert go.error is not None and "blocked address 127.0.0.2" in go.error
    assert target.hits == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "100.100.100.200",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",
        "2002:a00:1::1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "::127.0.0.1",
        "not-an-address",
    ],
)
def test_address_policy_blocks(address: str) -> None:
    with pytest.raises(BlockedAddress):
        AddressPolicy().check(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_address_policy_allows_public_addresses(address: str) -> None:
    AddressPolicy().check(address)


def test_address_policy_allowances() -> None:
    AddressPolicy(allow_private_networks=True).check("127.0.0.1")
    allowed = AddressPolicy(allowed_networks=(ipaddress.ip_network("10.0.0.0/8"),))
    allowed.check("10.9.8.7")
    allowed.check("::ffff:10.9.8.7")
    with pytest.raises(BlockedAddress, match=r"blocked address 192\.168\.0\.1 \(private network\)"):
        allowed.check("192.168.0.1")


@pytest.mark.parametrize("host", ["localhost", "0x7f000001", "2130706433", "127.1"])
async def test_the_resolver_drops_blocked_addresses(host: str) -> None:
    # Literals are checked before a request; the resolver is the second line for
    # names (and numeric spellings, should a literal check ever miss one).
    resolver = GuardedResolver(AddressPolicy(), ThreadedResolver())
    with pytest.raises(BlockedAddress, match=r"blocked address 127\.0\.0\.1 \(loopback\)"):
        await resolver.resolve(host, 80, socket.AF_INET)
    allowed = GuardedResolver(ALLOW_LOOPBACK, ThreadedResolver())
    assert [r["host"] for r in await allowed.resolve(host, 80, socket.AF_INET)] == ["127.0.0.1"]


async def test_a_crawlers_connections_stay_within_its_budget() -> None:
    """Two crawls of eight requests in flight each, on a Crawler of three connections:
    the sites never see more than three requests at once between them."""
    in_flight, most = 0, 0

    async def slow(_request: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return web.Response(text="<html><title>leaf</title></html>", content_type="text/html")

    crawler = Crawler(policy=ALLOW_LOOPBACK, max_connections=3)
    first, second = ScriptedSite(), ScriptedSite()
    for site in (first, second):
        site.routes["/"] = links(*(f"/p{n}" for n in range(12)))
        for n in range(12):
            site.routes[f"/p{n}"] = slow
    try:
        async with serve(first), serve(second):
            done = await asyncio.gather(
                *(crawl(crawler, s.origin, respectRobots=False, depth=1) for s in (first, second))
            )
    finally:
        await crawler.close()
    assert [result.summary.pages for result in done] == [13, 13]
    assert 1 < most <= 3
