"""One GET: the address guard, manual redirects, a size cap, errors translated.

:meth:`Fetcher.get` returns a :class:`Response` for any HTTP answer (error
statuses included; the caller decides what they mean) and raises
:class:`~scrapejobs.crawler.errors.FetchFailed` when there is none: network
errors, a blocked address, too many redirects, a redirect to a URL that is
not http(s). Redirects are followed by hand so that every hop passes the
address guard. A body larger than the cap is cut there: the response says
``too_large`` and keeps what was read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import aiohttp
from yarl import URL

from scrapejobs.crawler.errors import (
    FetchFailed,
    failure_from_exception,
    failure_from_status,
    parse_retry_after,
)
from scrapejobs.crawler.guard import HostGuard
from scrapejobs.crawler.urls import LinkResolver
from scrapejobs.failures import ErrorType, Failure

__all__ = ["Fetcher", "Get", "Response"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(slots=True)
class Response:
    """What a server answered to a GET, after redirects."""

    url: str
    final_url: str
    status: int
    content_type: str | None
    charset: str | None
    body: bytes
    size: int
    """Body bytes received (after content decoding), or the announced length if too large."""
    too_large: bool
    retry_after_header: str | None

    def failure(self) -> Failure | None:
        """The classified failure of an error status (4xx, 5xx), else None."""
        if self.status < 400:
            return None
        retry_after = parse_retry_after(self.retry_after_header, datetime.now(UTC))
        return failure_from_status(self.status, self.final_url, retry_after)


class Get(Protocol):
    """A crawl's way to GET a URL (paced, counted); robots and sitemaps use it."""

    async def __call__(self, url: str, *, max_bytes: int | None = None) -> Response: ...


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
    ) -> None:
        self._session = session
        self._guard = guard
        self._headers = dict(headers)
        self._timeout_seconds = timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._redirects = LinkResolver()

    async def get(self, url: str, *, max_bytes: int | None = None) -> Response:
        """GET a normalised URL, following redirects; see the module docstring."""
        limit = self._max_bytes if max_bytes is None else max_bytes
        current = url
        for _ in range(self._max_redirects + 1):
            try:
                target = URL(current, encoded=True)  # normalised: already encoded
                self._guard.check_host(target.raw_host or "")
                async with self._session.get(
                    target,
                    headers=self._headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as response:
                    location = self._redirect_target(response, current)
                    if location is None:
                        return await self._read(url, current, response, limit)
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                # OSError covers TimeoutError and BlockedAddress.
                raise FetchFailed(
                    failure_from_exception(exc, current, self._timeout_seconds)
                ) from exc
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
        self, url: str, final_url: str, response: aiohttp.ClientResponse, limit: int
    ) -> Response:
        length = response.content_length
        too_large = length is not None and length > limit
        if too_large:
            body = b""
            response.close()  # do not read it, do not reuse the connection
        else:
            body, too_large = await _read_capped(response, limit)
        return Response(
            url=url,
            final_url=final_url,
            status=response.status,
            content_type=response.headers.get("Content-Type"),
            charset=response.charset,
            body=body,
            size=length if too_large and length is not None else len(body),
            too_large=too_large,
            retry_after_header=response.headers.get("Retry-After"),
        )


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """The body, read up to ``limit`` bytes (after decoding); True if it went past."""
    content = response.content
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        if size > limit:
            chunks.append(chunk[: limit - size + len(chunk)])
            response.close()
            return b"".join(chunks), True
        chunks.append(chunk)
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), False
