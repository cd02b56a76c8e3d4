"""robots.txt: fetched once per origin and crawl, parsed with protego.

A robots.txt that cannot be had (no file, an error status, a network
error) allows everything, as in Scrapy. ``Crawl-delay`` is honoured up to
:data:`MAX_CRAWL_DELAY` seconds, so that a hostile value cannot park a
worker for hours per page.
"""

from __future__ import annotations

from protego import Protego

from scrapejobs.crawler.errors import FetchFailed
from scrapejobs.crawler.fetch import Get
from scrapejobs.crawler.parse import decode

__all__ = ["MAX_CRAWL_DELAY", "MAX_ROBOTS_BYTES", "RobotsRules", "fetch_robots"]

MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309 asks parsers to read at least 500 KiB
MAX_CRAWL_DELAY = 60.0


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
    """The robots.txt rules of ``origin`` (fetched with ``get``)."""
    try:
        response = await get(f"{origin}/robots.txt", max_bytes=MAX_ROBOTS_BYTES)
    except FetchFailed:
        return allow_all(user_agent)
    if not 200 <= response.status < 300:
        return allow_all(user_agent)
    text = decode(response.body, response.charset)
    return RobotsRules(Protego.parse(text), user_agent)
