"""The settings of one crawl (from the job's config) and of a Crawler (shared by its crawls)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scrapejobs.crawler.retries import DEFAULT_DELAYS, MAX_WAIT
from scrapejobs.jobs import DEFAULT_CONFIG

__all__ = ["CrawlSettings", "CrawlerOptions"]


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    """A job's config (CONTRACT 4) in the crawler's units: seconds, not ms."""

    depth: int
    max_pages: int
    timeout: float
    respect_robots: bool
    user_agent: str
    delay: float
    concurrency: int
    respect_retry_after: bool
    start_url: str | None
    max_duration: float | None = None
    """Seconds the whole attempt may take (``maxDuration``); None: no deadline."""
    max_page_bytes: int | None = None
    """Bytes of a page read and parsed (``maxPageBytes``); None: the crawler's cap."""
    dropped_parameters: tuple[str, ...] | None = None
    """Query parameters dropped from URLs (``dropQueryParameters``); None: the default list."""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CrawlSettings:
        """Missing or null keys take the defaults new jobs get."""
        merged = {**DEFAULT_CONFIG, **{k: v for k, v in config.items() if v is not None}}
        return cls(
            depth=max(int(merged["depth"]), 0),
            max_pages=max(int(merged["maxPages"]), 1),
            timeout=max(float(merged["timeout"]), 1.0) / 1000,
            respect_robots=bool(merged["respectRobots"]),
            user_agent=str(merged["userAgent"]),
            delay=max(float(merged["delay"]), 0.0) / 1000,
            concurrency=max(int(merged["maxConcurrentRequests"]), 1),
            respect_retry_after=bool(merged["respectRetryAfter"]),
            start_url=merged.get("startUrl") or None,
            max_duration=_seconds(merged.get("maxDuration")),
            max_page_bytes=int(merged["maxPageBytes"]) if merged.get("maxPageBytes") else None,
            dropped_parameters=(
                tuple(merged["dropQueryParameters"])
                if merged.get("dropQueryParameters") is not None
                else None
            ),
        )


def _seconds(ms: Any) -> float | None:
    return max(float(ms), 1.0) / 1000 if ms is not None else None


@dataclass(frozen=True, slots=True)
class CrawlerOptions:
    """Limits a deployment sets once for all the crawls of a Crawler."""

    max_response_bytes: int = 10 * 2**20
    max_redirects: int = 10
    page_batch: int = 100
    batch_seconds: float = 0.5
    retry_delays: tuple[float, ...] = DEFAULT_DELAYS
    max_retry_wait: float = MAX_WAIT
