"""One GET: the address guard, manual redirects, a size cap, errors translated.

:meth:`Fetcher.get` returns a :class:`Response` for any HTTP answer (error
statuses included; the caller decides what they mean) and raises
:class:`~scrapejobs.crawler.errors.FetchFailed` when there is none: network
errors, a blocked address, too many redirects, a redirect to a URL that is
not http(s). Redirects are followed by hand so that every hop passes the
address guard, and the response names the URLs it went through
(``redirects``), so that a crawl never fetches them again. A body larger
than the cap is read up to the cap and no further, whatever the
Content-Length says: the response is ``truncated`` and keeps what was read
(a parser can still use the first megabytes of a page or of a robots.txt).
A ``sink`` takes the body chunk by chunk instead, for what is too big to
hold (sitemaps); it returns False to stop reading.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import aiohttp
from yarl import URL

from scrapejobs.blocks import detect
from scrapejobs.crawler.errors import (
    FetchFailed,
    failure_from_exception,
    failure_from_status,
    parse_retry_after,
)
from scrapejobs.crawler.guard import HostGuard
from scrapejobs.crawler.urls import DEFAULT_QUERY_RULES, LinkResolver, QueryRules
from scrapejobs.failures import ErrorType, Failure

__all__ = ["AlreadyFetched", "Fetcher", "Get", "Response", "Sink"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
Sink = Callable[[bytes], bool]
"""Takes the next chunk of a body; returns False to stop reading."""


@dataclass(slots=True)
class Response:
    """What a server answered to a GET, after redirects."""

    url: str
    final_url: str
    status: int
    content_type: str | None
    """The Content-Type header as sent (its charset is the decoder's business)."""
    body: bytes
    """The body, up to the cap (empty when a sink took it)."""
    size: int
    """Body bytes received (after content decoding), or the announced length if larger."""
    truncated: bool
    """The body was cut at the cap (or a sink stopped reading)."""
    retry_after_header: str | None
    redirects: tuple[str, ...] = ()
    """The URLs redirected through, ``url`` first, ``final_url`` not included."""
    block: str | None = None
    """The anti-bot challenge or block page it is (``scrapejobs.blocks``), if any."""

    def failure(self) -> Failure | None:
        """The classified failure of a block or an error status (4xx, 5xx), else None."""
        if self.status < 400 and self.block is None:
            return None
        retry_after = parse_retry_after(self.retry_after_header, datetime.now(UTC))
        if self.block is not None:
            message = f"blocked: {self.block} (HTTP {self.status}) at {self.final_url}"
            return Failure(ErrorType.BLOCKED, message, self.status, retry_after)
        return failure_from_status(self.status, self.final_url, retry_after)


class AlreadyFetched(Exception):
    """A redirect led to a URL the caller has already fetched: not fetched again."""

    def __init__(self, url: str, hops: tuple[str, ...]) -> None:
        super().__init__(url)
        self.url = url
        self.hops = hops
        """The URLs redirected through on the way, the first one included."""


class Get(Protocol):
    """A crawl's way to GET a URL (paced, counted); robots and sitemaps use it."""

    async def __call__(
        self, url: str, *, max_bytes: int | None = None, sink: Sink | None = None
    ) -> Response: ...


MAX_UNBOUNDED = 1 << 30
"""A budget that never binds (a Fetcher made without its Crawler's)."""


class Fetcher:
    """GETs for one crawl: its headers and timeout, over the shared session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        guard: HostGuard,
        *,
        headers: Mapping[str, str],
        timeout: float,
        max_bytes: int,
        max_redirects: int,
        rules: QueryRules = DEFAULT_QUERY_RULES,
        budget: asyncio.Semaphore | None = None,
    ) -> None:
        self._session = session
        self._budget = budget or asyncio.Semaphore(MAX_UNBOUNDED)
        self._guard = guard
        self._headers = dict(headers)
        self._timeout_seconds = timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._redirects = LinkResolver(rules)

    async def get(
        self,
        url: str,
        *,
        max_bytes: int | None = None,
        time_limit: float | None = None,
        sink: Sink | None = None,
        known: Callable[[str], bool] | None = None,
    ) -> Response:
        """GET a normalised URL, following redirects; see the module docstring.

        ``time_limit`` (seconds) replaces the crawl's timeout for this request
        (when a deadline is nearer). A redirect to a URL ``known`` says the
        caller already has raises :class:`AlreadyFetched` instead of fetching it.
        """
        limit = self._max_bytes if max_bytes is None else max_bytes
        seconds = self._timeout_seconds if time_limit is None else time_limit
        client_timeout = (
            self._timeout if time_limit is None else aiohttp.ClientTimeout(total=time_limit)
        )
        current = url
        hops: list[str] = []
        for _ in range(self._max_redirects + 1):
            try:
                target = URL(current, encoded=True)  # normalised: already encoded
                self._guard.check_host(target.raw_host or "")
                async with (
                    self._budget,
                    self._session.get(
                        target,
                        headers=self._headers,
                        timeout=client_timeout,
                        allow_redirects=False,
                    ) as response,
                ):
                    location = self._redirect_target(response, current)
                    if location is None:
                        read = await self._read(url, current, response, limit, sink)
                        read.redirects = tuple(hops)
                        return read
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                # OSError covers TimeoutError and BlockedAddress.
                raise FetchFailed(failure_from_exception(exc, current, seconds)) from exc
            hops.append(current)
            if known is not None and known(location):
                raise AlreadyFetched(location, tuple(hops))
            current = location
        message = f"too many redirects (more than {self._max_redirects}) from {url}"
        raise FetchFailed(Failure(ErrorType.UNKNOWN, message))

    def _redirect_target(self, response: aiohttp.ClientResponse, current: str) -> str | None:
        if response.status not in REDIRECT_STATUSES:
            return None
        location = response.headers.get("Location")
        if location is None:
            return None
        target = self._redirects.resolve(current, location)
        if target is None:
            message = f"redirect from {current} to unsupported URL {location[:200]!r}"
            raise FetchFailed(Failure(ErrorType.INVALID_URL, message))
        return target[0]

    async def _read(
        self,
        url: str,
        final_url: str,
        response: aiohttp.ClientResponse,
        limit: int,
        sink: Sink | None,
    ) -> Response:
        body, received, truncated = await _read_capped(response, limit, sink)
        length = response.content_length
        return Response(
            url=url,
            final_url=final_url,
            status=response.status,
            content_type=response.headers.get("Content-Type"),
            body=body,
            size=max(length, received) if truncated and length is not None else received,
            truncated=truncated,
            retry_after_header=response.headers.get("Retry-After"),
            block=detect(response.status, response.headers, response.cookies.keys(), body),
        )


async def _read_capped(
    response: aiohttp.ClientResponse, limit: int, sink: Sink | None
) -> tuple[bytes, int, bool]:
    """The body up to ``limit`` bytes (after decoding), the bytes read, and whether it was cut.

    With a ``sink`` the chunks go there and the body returned is empty.
    """
    content = response.content
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.readany():
        room = limit - size
        size += len(chunk)
        cut = size > limit
        if cut:
            chunk = chunk[:room]
        if sink is None:
            chunks.append(chunk)
        elif not sink(chunk):
            cut = True
        if cut:
            response.close()  # do not read the rest, do not reuse the connection
            return b"".join(chunks), min(size, limit), True
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), size, False
