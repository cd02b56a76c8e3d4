"""Limits per site for the whole fleet: requests in flight, requests per second,
``Crawl-delay``, and a rate that 429s and 503s lower and that recovers (AIMD).

Pure domain code. A site's limits hold summed over every job and every
worker process. Each worker process crawling a site is one of its
*members* (a row it renews every sync, ``site_sync.py``); the members share
the limits evenly::

    rate limit   = min(maxRequestsPerSecond, 1 / Crawl-delay, adaptive rate)  (None: no cap)
    member's rate         = rate limit / members
    concurrency limit     = maxConcurrentRequests, or DEFAULT_SITE_CONCURRENCY (8)
    member's concurrency  = limit // members, one more for the first limit % members
                            members by worker id (so the shares sum to the limit)

The **adaptive rate** (AIMD, as TCP's congestion control): a 429 or 503 from
the site, heard by any worker, halves the fleet's rate, and remembers the
rate that was too fast (``rate_before``). Each second without one
(:data:`GAP`) regains some: 10 % of ``rate_before`` while below 90 %
of it (back quickly to just under where the 429s began, as TCP's slow-start
threshold), then :data:`RATE_STEP` requests/s (probing gently above). On a
site with a configured limit the lowered rate ends once it reaches the
limit; on one without, it stays as the rate the fleet learned, still
probing upwards, until an operator resumes the site. At most one change per
``gap`` whoever makes it (a step up waits a ``gap`` after any change, a
halving a ``gap`` after the last halving), so twenty workers hearing one
burst of 429s halve the rate once, and their steps up never delay a halving.
An example, a site that starts answering 429 above 50/s::

    52 --429--> 26 --1 s--> 31.2, 36.4, 41.6, 46.8 (90 % of 52), 47.3, 47.8 ...
    52.3 --429--> 26.15 ...                 (about 90 % of 52 on average)

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
    "GAP",
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
GAP = 1.0
"""Seconds between two changes of a site's adaptive rate (whatever the sync interval)."""
RATE_STEP = 0.5
"""Requests/s the fleet's lowered rate regains per ``gap`` once near ``rate_before``."""
FAST_STEP = 0.1
FAST_UNTIL = 0.9
"""Below ``FAST_UNTIL * rate_before`` it regains ``FAST_STEP * rate_before`` per ``gap``."""


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


def joining_share(site: Site, members: Sequence[str], me: str) -> Share:
    """``me``'s share as it joins ``members``: the requests in flight the others do not
    hold yet. They still hold their shares of the old membership (all the site's
    limit, if there are any) until their next sync, so a joiner starts with what is
    left, often none, and takes its even share at its own next sync: the sum never
    exceeds the limit, at the cost of a joiner waiting up to one sync interval.

    >>> site = Site("s", datetime(2024, 1, 1), max_concurrent_requests=4)
    >>> joining_share(site, ["a", "b"], "b").concurrency  # "a" holds all 4 for now
    0
    >>> joining_share(site, ["b"], "b").concurrency  # alone: everything
    4
    """
    others = sorted(set(members) - {me})
    held = sum(share_of(site, others, other).concurrency for other in others)
    even = share_of(site, members, me)
    return Share(even.rate, max(0, concurrency_limit(site) - held) if others else even.concurrency)


def _past(moment: datetime | None, now: datetime, gap: float) -> bool:
    return moment is None or moment + timedelta(seconds=gap) <= now


def slowed(site: Site, fleet_rate: float, now: datetime, gap: float) -> Site:
    """A 429 or 503 came back: halve the fleet's rate (``fleet_rate``: what the
    members send at, for a site without a limit yet; 0: not known yet)."""
    current = rate_limit(site) or fleet_rate
    if not current or not _past(site.slowed_at, now, gap):
        return site  # nothing known to halve yet, or this burst already halved it
    return replace(
        site,
        adaptive_rate=max(current / 2, MIN_RATE),
        rate_before=current,
        rate_changed_at=now,
        slowed_at=now,
        updated_at=now,
    )


def recovered(site: Site, now: datetime, gap: float) -> Site:
    """A ``gap`` went by without a slow-down: regain some rate (see the module)."""
    if site.adaptive_rate is None or not _past(site.rate_changed_at, now, gap):
        return site
    rate = site.adaptive_rate + RATE_STEP
    threshold = FAST_UNTIL * (site.rate_before or 0)
    if site.adaptive_rate < threshold * (1 - 1e-9):  # not there yet (floats)
        rate = min(site.adaptive_rate + FAST_STEP * (site.rate_before or 0), threshold)
    ceiling = _ceiling(site)
    if ceiling is not None and rate >= ceiling:
        return replace(
            site, adaptive_rate=None, rate_before=None, rate_changed_at=now, updated_at=now
        )
    return replace(site, adaptive_rate=rate, rate_changed_at=now, updated_at=now)
