"""Limits per site for the whole fleet: requests in flight, requests per second,
``Crawl-delay``, and a rate that 429s and 503s lower and that recovers (AIMD).

Pure domain code. A site's limits hold summed over every job and every
worker process. Each worker process crawling a site is one of its
*members* (a row it renews every sync, ``site_sync.py``); the members share
the limits evenly::

    rate limit   = min(maxRequestsPerSecond, 1 / Crawl-delay, adaptive rate)   (None: no cap)
    member's rate         = rate limit / members
    concurrency limit     = maxConcurrentRequests, or DEFAULT_SITE_CONCURRENCY (8)
    member's concurrency  = limit // members, one more for the first limit % members
                            members by worker id (so the shares sum to the limit)

The **adaptive rate** (AIMD, as TCP's congestion control): a 429 or 503 from
the site, heard by any worker, halves the fleet's rate; each sync interval
without one (``gap``, one second) regains :data:`RATE_STEP` requests/s, up
to the configured limit or, without one, to the rate the fleet had when it
was first lowered; then the site is no longer lowered. At most one change
per ``gap`` whoever makes it, so twenty workers hearing one burst of 429s
halve the rate once. An example, a site capped at 8 requests/s::

    8 --429--> 4 --1 s--> 4.5 --1 s--> 5 ... 7.5 --1 s--> 8 (no longer lowered)

A member whose concurrency share is 0 (more members than the limit) waits
until another member leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from scrapejobs.sites import Site

__all__ = [
    "DEFAULT_SITE_CONCURRENCY",
    "MIN_RATE",
    "RATE_STEP",
    "Share",
    "concurrency_limit",
    "rate_limit",
    "recovered",
    "share_of",
    "slowed",
]

DEFAULT_SITE_CONCURRENCY = 8
"""Requests in flight to one site from the whole fleet (Scrapy's per-domain default)."""
MIN_RATE = 1 / 60
"""The lowest adaptive rate: one request a minute."""
RATE_STEP = 0.5
"""Requests/s the fleet's lowered rate regains per ``gap`` without a 429 or 503."""


def _ceiling(site: Site) -> float | None:
    """The configured rate limit: the operator's cap and the Crawl-delay's."""
    caps = [site.max_requests_per_second, 1 / site.crawl_delay if site.crawl_delay else None]
    found = [cap for cap in caps if cap]
    return min(found) if found else None


def rate_limit(site: Site) -> float | None:
    """Requests/s the fleet may send to the site now (None: no cap)."""
    found = [rate for rate in (_ceiling(site), site.adaptive_rate) if rate]
    return min(found) if found else None


def concurrency_limit(site: Site) -> int:
    return site.max_concurrent_requests or DEFAULT_SITE_CONCURRENCY


@dataclass(frozen=True, slots=True)
class Share:
    """One member's part of its site's limits."""

    rate: float | None
    concurrency: int


def share_of(site: Site, members: Sequence[str], me: str) -> Share:
    """``me``'s share of the site's limits among ``members`` (``me`` counted in).

    >>> share_of(Site("s", datetime(2024, 1, 1), max_requests_per_second=9.0), ["b", "a"], "b")
    Share(rate=4.5, concurrency=4)
    """
    everyone = sorted({*members, me})
    n, rank = len(everyone), everyone.index(me)
    limit = rate_limit(site)
    concurrency = concurrency_limit(site)
    extra = 1 if rank < concurrency % n else 0
    return Share(limit / n if limit else None, concurrency // n + extra)


def _may_change(site: Site, now: datetime, gap: float) -> bool:
    changed = site.rate_changed_at
    return changed is None or changed + timedelta(seconds=gap) <= now


def slowed(site: Site, fleet_rate: float, now: datetime, gap: float) -> Site:
    """A 429 or 503 came back: halve the fleet's rate (``fleet_rate``: what the
    members sent at, for a site without a limit yet)."""
    if not _may_change(site, now, gap):
        return site
    current = rate_limit(site) or fleet_rate or 1.0
    before = site.rate_before if site.adaptive_rate is not None else current
    return replace(
        site,
        adaptive_rate=max(current / 2, MIN_RATE),
        rate_before=before,
        rate_changed_at=now,
        updated_at=now,
    )


def recovered(site: Site, now: datetime, gap: float) -> Site:
    """A ``gap`` went by without a slow-down: regain :data:`RATE_STEP`."""
    if site.adaptive_rate is None or not _may_change(site, now, gap):
        return site
    tops = [top for top in (_ceiling(site), site.rate_before) if top]
    rate = site.adaptive_rate + RATE_STEP
    if not tops or rate >= min(tops):
        return replace(
            site, adaptive_rate=None, rate_before=None, rate_changed_at=now, updated_at=now
        )
    return replace(site, adaptive_rate=rate, rate_changed_at=now, updated_at=now)
