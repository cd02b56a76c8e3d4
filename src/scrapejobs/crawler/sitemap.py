"""Sitemaps: the page URLs a ``sitemap_scrape`` fetches.

Sources are ``config.startUrl`` when given, else the ``Sitemap:`` lines of
robots.txt and ``/sitemap.xml``. Sitemap indexes are followed breadth-first,
nested up to :data:`MAX_NESTING` levels and :data:`MAX_SITEMAPS` files in
all.

Each file is read as it arrives (:class:`SitemapParser`, fed by the
fetcher's sink), never held whole: gzip is inflated on the fly and the XML
parsed incrementally by lxml's pull parser, which expands no entities and
loads no DTD or external resource. The protocol's limits hold per file
(:data:`MAX_URLS` entries, :data:`MAX_FILE_BYTES` uncompressed); past them
the reader stops and says so. Only the ``<loc>`` of a ``<url>`` (or, in an
index, of a ``<sitemap>``) counts: ``<image:loc>`` and the like are not
pages, and commented-out entries are comments. Plain-text sitemaps (one URL
a line) are read too.

Page URLs are kept when they are on the crawl's origin, new, and allowed by
robots.txt, until ``maxPages`` of them. The attempt fails only when no
source at all could be read; a source that could not be read, or was read
only in part, is reported in :attr:`SitemapReader.problems` (the attempt's
note), never passed over in silence.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from lxml import etree

from scrapejobs.crawler.errors import FetchFailed
from scrapejobs.crawler.fetch import Get
from scrapejobs.crawler.urls import DEFAULT_QUERY_RULES, QueryRules, normalise
from scrapejobs.failures import ErrorType, Failure

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_NESTING",
    "MAX_SITEMAPS",
    "MAX_URLS",
    "SitemapParser",
    "SitemapReader",
    "parse_sitemap",
]

MAX_NESTING = 3
MAX_SITEMAPS = 50
MAX_URLS = 50_000
"""Entries per sitemap file (sitemaps.org)."""
MAX_FILE_BYTES = 50 * 2**20
"""Uncompressed bytes per sitemap file (sitemaps.org: 50 MB)."""
_ENTRIES = {"urlset": "url", "sitemapindex": "sitemap"}
_SNIFF_BYTES = 512
_SLICE = 256 * 1024


def _local(tag: str) -> tuple[str, str]:
    """(namespace, local name) of an lxml tag ``{ns}name``."""
    namespace, _, name = tag[1:].rpartition("}") if tag.startswith("{") else ("", "", tag)
    return namespace, name


class SitemapParser:
    """One sitemap file, fed chunk by chunk: its kind, its locations, whether it was all read.

    :meth:`feed` returns False once nothing more is wanted (a limit was
    reached, or the file is not a sitemap); :meth:`close` ends the file.
    """

    def __init__(self, max_urls: int = MAX_URLS, max_bytes: int = MAX_FILE_BYTES) -> None:
        self.kind: str | None = None
        """``"urlset"``, ``"index"``, or None (not a sitemap)."""
        self.locations: list[str] = []
        self.problem: str | None = None
        """Why the file was not read to its end (a limit, broken XML or gzip)."""
        self._max_urls = max_urls
        self._max_bytes = max_bytes
        self._inflate: zlib._Decompress | None = None
        self._head = b""
        self._xml: etree.XMLPullParser | None = None
        self._text: list[bytes] | None = None
        self._entry = ""
        self._size = 0
        self._fed = False
        self._done = False

    def feed(self, chunk: bytes) -> bool:
        if self._done:
            return False
        if not self._fed and chunk[:2] == b"\x1f\x8b":
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._fed = self._fed or bool(chunk)
        try:
            for piece in self._pieces(chunk):
                self._size += len(piece)
                if self._size > self._max_bytes:
                    self._consume(piece[: len(piece) - (self._size - self._max_bytes)])
                    return self._stop(f"it is over {self._max_bytes // 2**20} MB uncompressed")
                self._consume(piece)
                if self._done:
                    return False
        except zlib.error:
            return self._stop("its gzip stream is broken")
        return True

    def _pieces(self, chunk: bytes) -> Iterator[bytes]:
        """``chunk``, inflated if gzip, in slices the XML parser takes in its stride.

        Inflating a slice at a time also bounds what a gzip bomb can expand to.
        """
        if self._inflate is None:
            for start in range(0, len(chunk), _SLICE):
                yield chunk[start : start + _SLICE]
            return
        while chunk:
            yield self._inflate.decompress(chunk, _SLICE)
            chunk = self._inflate.unconsumed_tail

    def close(self) -> None:
        if self._done:
            return
        if self._inflate is not None and not self._inflate.eof:
            self._stop("its gzip stream ends early")
            return
        if self._xml is None and self._text is None:
            self._start(b"")  # a file shorter than the sniff
        if self._xml is not None:
            try:
                self._xml.close()
            except etree.XMLSyntaxError as exc:
                self._stop(f"its XML is broken ({exc.msg})")
                return
            self._read_events()
        elif self._text is not None:
            self._read_lines(b"".join(self._text), final=True)
        self._done = True

    def _stop(self, problem: str) -> bool:
        if self.kind is not None and self.problem is None:
            self.problem = problem
        self._done = True
        return False

    def _consume(self, chunk: bytes) -> None:
        if self._xml is None and self._text is None:
            self._head += chunk
            if len(self._head) < _SNIFF_BYTES:
                return
            chunk, self._head = self._head, b""
            self._start(chunk)
            return
        self._take(chunk)

    def _start(self, head: bytes) -> None:
        """Tell XML from plain text by the first bytes, then parse them."""
        head = head or self._head
        self._head = b""
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            self._xml = etree.XMLPullParser(
                events=("start", "end"),
                resolve_entities=False,
                load_dtd=False,
                no_network=True,
                huge_tree=False,
                remove_comments=True,
                remove_pis=True,
            )
        else:
            self._text = []
        self._take(head)

    def _take(self, chunk: bytes) -> None:
        if self._xml is not None:
            try:
                self._xml.feed(chunk)
            except etree.XMLSyntaxError as exc:
                self._stop(f"its XML is broken ({exc.msg})")
                return
            self._read_events()
        elif self._text is not None:
            self._text.append(chunk)
            if b"\n" in chunk:
                self._read_lines(b"".join(self._text), final=False)

    def _read_events(self) -> None:
        assert self._xml is not None
        for event, element in self._xml.read_events():
            if self._done:
                return
            namespace, name = _local(element.tag)
            if event == "start":
                if self.kind is None:
                    self._root(name)
                continue
            if name == "loc" and self._entry:
                parent = element.getparent()
                if parent is not None and _local(parent.tag) == (namespace, self._entry):
                    self._add((element.text or "").strip())
            elif name == self._entry:
                element.clear()  # keep memory flat: drop entries already read
                while element.getprevious() is not None:
                    del element.getparent()[0]

    def _root(self, name: str) -> None:
        if name not in _ENTRIES:
            self._done = True  # not a sitemap: stop reading
            return
        self.kind = "index" if name == "sitemapindex" else "urlset"
        self._entry = _ENTRIES[name]

    def _read_lines(self, text: bytes, *, final: bool) -> None:
        assert self._text is not None
        lines = text.split(b"\n")
        rest = b"" if final else lines.pop()
        self._text[:] = [rest] if rest else []
        for raw in lines:
            line = raw.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
            if not line:
                continue
            if not line.startswith(("http://", "https://")):
                self.locations.clear()
                self.kind = None
                self._done = True  # not a plain-text sitemap after all
                return
            self.kind = "urlset"
            self._add(line)
            if self._done:
                return

    def _add(self, location: str) -> None:
        if not location:
            return
        if len(self.locations) >= self._max_urls:
            self._stop(f"it has more than {self._max_urls:,} entries")
            return
        self.locations.append(location)


def parse_sitemap(body: bytes, max_urls: int = MAX_URLS) -> tuple[str, list[str]] | None:
    """``("index" | "urlset", locations)`` of a whole sitemap body, or None if it is none.

    >>> parse_sitemap(b"<urlset><url><loc>https://a.example/x?a=1&amp;b=2</loc></url></urlset>")
    ('urlset', ['https://a.example/x?a=1&b=2'])
    """
    parser = SitemapParser(max_urls)
    parser.feed(body)
    parser.close()
    return (parser.kind, parser.locations) if parser.kind else None


class SitemapReader:
    """Collects the page URLs of one sitemap_scrape."""

    def __init__(
        self,
        get: Get,
        *,
        origins: set[str],
        wanted: Callable[[str], bool],
        max_urls: int,
        rules: QueryRules = DEFAULT_QUERY_RULES,
    ) -> None:
        self._get = get
        self._origins = origins
        self._wanted = wanted
        self._max_urls = max_urls
        self._rules = rules
        self.urls: list[str] = []
        self.problems: list[str] = []
        """Sources that could not be read, or were read only in part, and why."""
        self._seen: set[str] = set()

    async def read(self, sources: Iterable[str]) -> list[str]:
        """Page URLs from ``sources``; raises FetchFailed if none could be read."""
        queue = deque((source, 0) for source in dict.fromkeys(sources))
        tried: set[str] = set()
        failures: list[tuple[str, Failure]] = []
        read_any = False
        while queue and len(tried) < MAX_SITEMAPS and len(self.urls) < self._max_urls:
            source, level = queue.popleft()
            if source in tried:
                continue
            tried.add(source)
            try:
                kind, locations, problem = await self._fetch(source)
            except FetchFailed as exc:
                failures.append((source, exc.failure))
                continue
            read_any = True
            if kind == "index":
                if level < MAX_NESTING:
                    queue.extend((loc, level + 1) for loc in self._normal(locations))
            else:
                self._keep(locations)
            if problem is not None and (kind == "index" or len(self.urls) < self._max_urls):
                read = f"{len(locations):,} entries read"
                self.problems.append(f"{source} was read only in part ({read}): {problem}")
        if not read_any:
            first = failures[0][1] if failures else None
            raise FetchFailed(first or Failure(ErrorType.NOT_FOUND, "no sitemap found"))
        self.problems += [
            f"{source} could not be read: {failure.message}"
            for source, failure in failures
            if failure.error_type is not ErrorType.NOT_FOUND  # /sitemap.xml need not exist
        ]
        return self.urls

    async def _fetch(self, source: str) -> tuple[str, list[str], str | None]:
        parser = SitemapParser()
        response = await self._get(source, max_bytes=MAX_FILE_BYTES + 1, sink=parser.feed)
        failure = response.failure()
        if failure is not None:
            raise FetchFailed(failure)
        parser.close()
        if parser.kind is None:
            raise FetchFailed(Failure(ErrorType.NOT_FOUND, f"no sitemap at {source}"))
        return parser.kind, parser.locations, parser.problem

    def _normal(self, locations: list[str]) -> list[str]:
        return [normal[0] for loc in locations if (normal := normalise(loc, self._rules))]

    def _keep(self, locations: list[str]) -> None:
        for location in locations:
            normal = normalise(location, self._rules)
            if normal is None or normal[1] not in self._origins:
                continue
            url = normal[0]
            if url in self._seen or not self._wanted(url):
                continue
            self._seen.add(url)
            self.urls.append(url)
            if len(self.urls) >= self._max_urls:
                return
