"""Sitemaps: the page URLs a ``sitemap_scrape`` fetches.

Sources are ``config.startUrl`` when given, else the ``Sitemap:`` lines of
robots.txt and ``/sitemap.xml``. Sitemap indexes are followed breadth-first,
nested up to :data:`MAX_NESTING` levels and :data:`MAX_SITEMAPS` files in
all. Gzipped sitemaps are read (up to the response cap). ``<loc>`` values
are read with a regular expression, not an XML parser: no entity expansion,
no external entities, and a truncated file still yields its first URLs.
Plain-text sitemaps (one URL a line) are read too.

Page URLs are kept when they are on the crawl's origin, new, and allowed
by robots.txt, until ``maxPages`` of them. The attempt fails only when no
source at all could be read.
"""

from __future__ import annotations

import html
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterable

from scrapejobs.crawler.errors import FetchFailed
from scrapejobs.crawler.fetch import Get, Response
from scrapejobs.crawler.urls import normalise
from scrapejobs.failures import ErrorType, Failure

__all__ = ["MAX_NESTING", "MAX_SITEMAPS", "SitemapReader", "parse_sitemap"]

MAX_NESTING = 3
MAX_SITEMAPS = 50
_LOC = re.compile(rb"<(?:[\w-]+:)?loc\b[^>]*>(.*?)</(?:[\w-]+:)?loc\s*>", re.IGNORECASE | re.DOTALL)
_INDEX = re.compile(rb"<(?:[\w-]+:)?sitemapindex\b", re.IGNORECASE)
_URLSET = re.compile(rb"<(?:[\w-]+:)?urlset\b", re.IGNORECASE)
_CDATA = re.compile(r"^<!\[CDATA\[(.*)\]\]>$", re.DOTALL)


def _gunzip(body: bytes, limit: int) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, limit)
    except zlib.error:
        return b""


def _loc_text(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").strip()
    cdata = _CDATA.match(text)
    return (cdata.group(1) if cdata else html.unescape(text)).strip()


def parse_sitemap(body: bytes, limit: int) -> tuple[str, list[str]] | None:
    """``("index" | "urlset", locations)`` of a sitemap body, or None if it is none.

    >>> parse_sitemap(b"<urlset><url><loc>https://a.example/x?a=1&amp;b=2</loc></url></urlset>", 99)
    ('urlset', ['https://a.example/x?a=1&b=2'])
    """
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body, limit)
    head = body[:4096]
    if _INDEX.search(head):
        return "index", [_loc_text(m) for m in _LOC.findall(body)]
    if _URLSET.search(head):
        return "urlset", [_loc_text(m) for m in _LOC.findall(body)]
    lines = body.decode("utf-8", errors="replace").split()
    urls = [line for line in lines if line.startswith(("http://", "https://"))]
    if urls and len(urls) == len(lines):
        return "urlset", urls
    return None


class SitemapReader:
    """Collects the page URLs of one sitemap_scrape."""

    def __init__(
        self,
        get: Get,
        *,
        origins: set[str],
        wanted: Callable[[str], bool],
        max_urls: int,
        max_bytes: int,
    ) -> None:
        self._get = get
        self._origins = origins
        self._wanted = wanted
        self._max_urls = max_urls
        self._max_bytes = max_bytes
        self.urls: list[str] = []
        self._seen: set[str] = set()

    async def read(self, sources: Iterable[str]) -> list[str]:
        """Page URLs from ``sources``; raises FetchFailed if none could be read."""
        queue = deque((source, 0) for source in dict.fromkeys(sources))
        tried: set[str] = set()
        first_failure: Failure | None = None
        read_any = False
        while queue and len(tried) < MAX_SITEMAPS and len(self.urls) < self._max_urls:
            source, level = queue.popleft()
            if source in tried:
                continue
            tried.add(source)
            try:
                kind, locations = await self._fetch(source)
            except FetchFailed as exc:
                first_failure = first_failure or exc.failure
                continue
            read_any = True
            if kind == "index":
                if level < MAX_NESTING:
                    queue.extend((loc, level + 1) for loc in self._normal(locations))
            else:
                self._keep(locations)
        if not read_any:
            raise FetchFailed(first_failure or Failure(ErrorType.NOT_FOUND, "no sitemap found"))
        return self.urls

    async def _fetch(self, source: str) -> tuple[str, list[str]]:
        response: Response = await self._get(source)
        failure = response.failure()
        if failure is not None:
            raise FetchFailed(failure)
        parsed = parse_sitemap(response.body, self._max_bytes)
        if parsed is None:
            raise FetchFailed(Failure(ErrorType.NOT_FOUND, f"no sitemap at {source}"))
        return parsed

    @staticmethod
    def _normal(locations: list[str]) -> list[str]:
        return [normal[0] for loc in locations if (normal := normalise(loc)) is not None]

    def _keep(self, locations: list[str]) -> None:
        for location in locations:
            normal = normalise(location)
            if normal is None or normal[1] not in self._origins:
                continue
            url = normal[0]
            if url in self._seen or not self._wanted(url):
                continue
            self._seen.add(url)
            self.urls.append(url)
            if len(self.urls) >= self._max_urls:
                return
