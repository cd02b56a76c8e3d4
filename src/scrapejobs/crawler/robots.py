"""robots.txt, read as RFC 9309 says: fetched once per origin and crawl, parsed with protego.

- The first :data:`MAX_ROBOTS_BYTES` (512 KiB, over the RFC's 500 KiB
  minimum) are parsed whatever the file's length (section 2.5).
- A 2xx answer is the rules; 4xx ("unavailable", 404 included) allows
  everything (2.3.1.3), as in Scrapy.
- A 5xx answer, a 429, or no answer at all (a network error, after the
  crawl's in-crawl retries) means "unreachable": assume complete disallow
  (2.3.1.4). :func:`fetch_robots` raises :class:`RobotsUnreachable` with the
  classified failure (``Retry-After`` included), and a crawl that obeys
  robots.txt fails its attempt with it: retryable, never crawled blind.
  **Decision**: 429 counts as unreachable too, as Google reads it: a site
  that is overloaded has not said "allowed".
- ``Crawl-delay`` is honoured up to :data:`MAX_CRAWL_DELAY` seconds, so that
  a hostile value cannot park a worker for hours per page.

The file is UTF-8 (2.2); a byte-order mark is dropped and invalid bytes are
replaced.
"""

from __future__ import annotations

from protego import Protego

from scrapejobs.crawler.errors import FetchFailed
from scrapejobs.crawler.fetch import Get
from scrapejobs.failures import Failure

__all__ = [
    "MAX_CRAWL_DELAY",
    "MAX_ROBOTS_BYTES",
    "RobotsRules",
    "RobotsUnreachable",
    "allow_all",
    "fetch_robots",
]

MAX_ROBOTS_BYTES = 512 * 1024
MAX_CRAWL_DELAY = 60.0


class RobotsUnreachable(Exception):
    """robots.txt answered 5xx or 429, or not at all: assume complete disallow."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class RobotsRules:
    """The rules of one robots.txt for one user agent."""

    def __init__(self, parser: Protego | None, user_agent: str) -> None:
        self._parser = parser
        self._user_agent = user_agent

    def allows(self, url: str) -> bool:
        return self._parser is None or self._parser.can_fetch(url, self._user_agent)

    @property
    def crawl_delay(self) -> float:
        """Seconds between requests the site asks for (0 if none)."""
        if self._parser is None:
            return 0.0
        delay = self._parser.crawl_delay(self._user_agent)
        return min(max(delay or 0.0, 0.0), MAX_CRAWL_DELAY)

    @property
    def sitemaps(self) -> list[str]:
        return [] if self._parser is None else list(self._parser.sitemaps)


def allow_all(user_agent: str) -> RobotsRules:
    return RobotsRules(None, user_agent)


async def fetch_robots(get: Get, origin: str, user_agent: str) -> RobotsRules:
    """The robots.txt rules of ``origin`` (fetched with ``get``); see the module docstring."""
    url = f"{origin}/robots.txt"
    try:
        response = await get(url, max_bytes=MAX_ROBOTS_BYTES)
    except FetchFailed as exc:
        raise RobotsUnreachable(exc.failure) from exc
    failure = response.failure()
    if failure is not None and (response.status >= 500 or response.status == 429):
        raise RobotsUnreachable(failure)
    if not 200 <= response.status < 300:
        return allow_all(user_agent)
    text = response.body.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return RobotsRules(Protego.parse(text), user_agent)
