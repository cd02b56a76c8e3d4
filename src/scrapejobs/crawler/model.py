"""What a crawl takes and gives: the public data types of the crawler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scrapejobs.failures import Failure

__all__ = ["CrawlFailed", "CrawlSpec", "CrawlSummary", "Page"]


@dataclass(frozen=True, slots=True)
class CrawlSpec:
    """One attempt's orders: the job's type, domain and config (CONTRACT 4)."""

    job_type: str
    """``domain_scrape``, ``page_scrape`` or ``sitemap_scrape``."""
    domain: str
    """``example.com``, ``example.com:8080`` or an origin ``http://127.0.0.1:8081``."""
    config: Mapping[str, Any]
    """depth, maxPages, timeout (ms), respectRobots, userAgent, delay (ms),
    maxConcurrentRequests, respectRetryAfter, startUrl (optional)."""


@dataclass(slots=True)
class Page:
    """One fetched page (or one that failed deeper in a crawl), as stored."""

    url: str
    final_url: str
    status: int | None
    depth: int
    content_type: str | None
    title: str | None
    text: str | None
    links: int
    bytes: int
    fetched_at: datetime
    error: str | None
    truncated: bool = False
    """Only the first ``maxPageBytes`` of the body were read (and parsed)."""

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict (what ``dataclasses.asdict`` gives, many times faster)."""
        return {
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "depth": self.depth,
            "content_type": self.content_type,
            "title": self.title,
            "text": self.text,
            "links": self.links,
            "bytes": self.bytes,
            "fetched_at": self.fetched_at,
            "error": self.error,
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    pages: int
    """Pages handed to ``on_pages``."""
    errors: int
    """Of those, pages with an error."""
    note: str | None = None
    """What the attempt did not cover and why (a deadline, a sitemap read in part)."""


class CrawlFailed(Exception):
    """The attempt failed: its start URL (or sitemap) could not be fetched."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure
