"""Big sitemaps read to the end (streamed), within the protocol's limits, never cut silently.

A protocol-sized sitemap (50,000 URLs with their optional tags and an image
each, 14 MB) lists only one URL on the crawl's own site, the very last:
finding it proves the whole file was read, without fetching 50,000 pages.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable

import pytest
from aiohttp import web

from scrapejobs.crawler import Crawler
from scrapejobs.crawler.sitemap import MAX_URLS, SitemapParser, parse_sitemap
from tests.crawl_sites import Handler, ScriptedSite, content, page
from tests.crawling import crawl

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
IMAGE_NS = 'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"'


def big_sitemap(own_url: str, entries: int = MAX_URLS) -> bytes:
    """``entries`` URLs elsewhere, with lastmod/changefreq/priority/image, then ``own_url``."""
    filler = "".join(
        f"<url><loc>https://elsewhere.example/catalogue/item-{n:06d}/details.html</loc>"
        "<lastmod>2024-01-01T00:00:00+00:00</lastmod><changefreq>weekly</changefreq>"
        f"<priority>0.5</priority><image:image><image:loc>{own_url}.jpg</image:loc>"
        "</image:image></url>"
        for n in range(entries - 1)
    )
    last = f"<url><loc>{own_url}</loc></url>"
    return f'<?xml version="1.0"?><urlset {NS} {IMAGE_NS}>{filler}{last}</urlset>'.encode()


def gzip_encoded(body: bytes) -> Handler:
    """``body`` sent with ``Content-Encoding: gzip`` (and its Content-Length)."""
    packed = gzip.compress(body)

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(
            body=packed, content_type="application/xml", headers={"Content-Encoding": "gzip"}
        )

    return handler


SENDERS: list[tuple[str, Callable[[bytes], Handler]]] = [
    ("content-length", lambda body: content(body, "application/xml")),
    ("chunked", lambda body: content(body, "application/xml", chunked=True)),
    ("content-encoding-gzip", gzip_encoded),
    ("gzip-file", lambda body: content(gzip.compress(body), "application/x-gzip")),
]


@pytest.mark.parametrize(("how", "send"), SENDERS, ids=[how for how, _ in SENDERS])
async def test_a_sitemap_at_the_protocols_limits_is_read_to_its_end(
    crawler: Crawler, site: ScriptedSite, how: str, send: Callable[[bytes], Handler]
) -> None:
    body = big_sitemap(site.url("/last"))
    assert len(body) > 10 * 2**20  # over the page cap: sitemaps have their own
    site.routes["/sitemap.xml"] = send(body)
    site.routes["/last"] = page(title="last")
    result = await crawl(crawler, site.origin, "sitemap_scrape", respectRobots=False)
    assert [p.url for p in result.pages] == [site.url("/last")]
    assert site.paths() == ["/sitemap.xml", "/last"]  # no image fetched as a page
    assert result.summary.note is None


async def test_a_sitemap_over_the_limits_is_read_up_to_them(
    crawler: Crawler, site: ScriptedSite
) -> None:
    urls = "".join(f"<url><loc>{site.url(f'/p{n}')}</loc></url>" for n in range(MAX_URLS + 5))
    site.routes["/sitemap.xml"] = content(f"<urlset {NS}>{urls}</urlset>".encode(), "text/xml")
    for n in range(3):
        site.routes[f"/p{n}"] = page()
    result = await crawl(crawler, site.origin, "sitemap_scrape", respectRobots=False, maxPages=3)
    assert len(result.pages) == 3
    assert result.summary.note is None  # maxPages was reached: nothing missing
    parser = SitemapParser()
    parser.feed(f"<urlset {NS}>{urls}</urlset>".encode())
    parser.close()
    assert len(parser.locations) == MAX_URLS
    assert parser.problem == "it has more than 50,000 entries"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(
            lambda url: gzip.compress(big_sitemap(url, 2000))[:-2000],
            "its gzip stream ends early",
            id="gzip-cut-short",
        ),
        pytest.param(
            lambda url: big_sitemap(url, 2000)[:-5000],
            "its XML is broken",
            id="xml-cut-short",
        ),
    ],
)
async def test_a_sitemap_cut_short_is_never_reported_complete(
    crawler: Crawler, site: ScriptedSite, body: Callable[[str], bytes], problem: str
) -> None:
    elsewhere = site.url("/index-listed")
    index = f"<sitemapindex {NS}><sitemap><loc>{site.url('/cut.xml')}</loc></sitemap>"
    index += f"<sitemap><loc>{site.url('/fine.xml')}</loc></sitemap></sitemapindex>"
    site.routes["/sitemap.xml"] = content(index.encode(), "application/xml")
    site.routes["/cut.xml"] = content(body(site.url("/never")), "application/octet-stream")
    fine = f"<urlset {NS}><url><loc>{elsewhere}</loc></url></urlset>"
    site.routes["/fine.xml"] = content(fine.encode(), "application/xml")
    site.routes["/index-listed"] = page()
    result = await crawl(crawler, site.origin, "sitemap_scrape", respectRobots=False)
    assert [p.url for p in result.pages] == [elsewhere]
    assert result.summary.note is not None
    assert site.url("/cut.xml") in result.summary.note
    assert problem in result.summary.note


async def test_an_unreadable_sitemap_next_to_readable_ones_is_named(
    crawler: Crawler, site: ScriptedSite
) -> None:
    robots = f"User-agent: *\nSitemap: {site.url('/down.xml')}\nSitemap: {site.url('/up.xml')}\n"
    site.routes["/robots.txt"] = content(robots.encode(), "text/plain")

    async def down(_request: web.Request) -> web.Response:
        return web.Response(status=500, text="oops")

    site.routes["/down.xml"] = down
    up = f"<urlset {NS}><url><loc>{site.url('/p')}</loc></url></urlset>"
    site.routes["/up.xml"] = content(up.encode(), "application/xml")
    site.routes["/p"] = page()
    result = await crawl(crawler, site.origin, "sitemap_scrape")
    assert [p.url for p in result.pages] == [site.url("/p")]
    assert result.summary.note is not None and "/down.xml could not be read" in result.summary.note


async def test_commented_out_and_image_locations_are_not_pages(
    crawler: Crawler, site: ScriptedSite
) -> None:
    sitemap = (
        f'<?xml version="1.0"?><urlset {NS} {IMAGE_NS}>'
        f"<!-- <url><loc>{site.url('/commented')}</loc></url> -->"
        f"<url><loc>{site.url('/page')}</loc>"
        f"<image:image><image:loc>{site.url('/photo.jpg')}</image:loc></image:image></url>"
        "</urlset>"
    )
    site.routes["/sitemap.xml"] = content(sitemap.encode(), "application/xml")
    site.routes["/page"] = page()
    result = await crawl(crawler, site.origin, "sitemap_scrape", respectRobots=False)
    assert [p.url for p in result.pages] == [site.url("/page")]
    assert "/commented" not in site.paths() and "/photo.jpg" not in site.paths()


def test_entities_are_not_expanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b"<urlset><url><loc>https://e.example/&c;</loc></url></urlset>"
    )
    assert parse_sitemap(bomb) == ("urlset", ["https://e.example/"])


def test_plain_text_sitemaps_are_read() -> None:
    text = b"\xef\xbb\xbfhttps://e.example/a\r\nhttps://e.example/b\n\n"
    assert parse_sitemap(text) == ("urlset", ["https://e.example/a", "https://e.example/b"])
    assert parse_sitemap(b"<html><body>not a sitemap</body></html>") is None
    assert parse_sitemap(b"just words\nhttps://e.example/a\n") is None


async def test_a_crawl_that_wanted_more_than_the_limits_says_so(
    crawler: Crawler, site: ScriptedSite
) -> None:
    entries = "".join(
        f"<url><loc>https://elsewhere.example/{n}</loc></url>" for n in range(MAX_URLS)
    )
    own = f"<url><loc>{site.url('/beyond')}</loc></url>"
    site.routes["/sitemap.xml"] = content(
        f"<urlset {NS}>{entries}{own}</urlset>".encode(), "text/xml"
    )
    site.routes["/beyond"] = page()
    result = await crawl(crawler, site.origin, "sitemap_scrape", respectRobots=False)
    assert result.pages == []
    assert result.summary.note == (
        f"{site.url('/sitemap.xml')} was read only in part (50,000 entries read): "
        "it has more than 50,000 entries"
    )
