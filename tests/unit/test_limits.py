"""Fleet-wide site limits: shares among members, and the AIMD of the fleet's rate."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from scrapejobs.crawler.limiter import SiteLimiter
from scrapejobs.limits import (
    DEFAULT_SITE_CONCURRENCY,
    MIN_RATE,
    Share,
    rate_limit,
    recovered,
    share_of,
    slowed,
)
from scrapejobs.sites import Site

NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)


def site(**fields: object) -> Site:
    return Site("shop.example", NOW, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("members", "concurrencies"),
    [
        (["a"], [8]),
        (["a", "b"], [4, 4]),
        (["a", "b", "c"], [3, 3, 2]),
        ([*"abcdefghij"], [1] * 8 + [0] * 2),
    ],
)
def test_concurrency_shares_sum_to_the_limit(members: list[str], concurrencies: list[int]) -> None:
    shares = [share_of(site(), members, me).concurrency for me in members]
    assert shares == concurrencies
    assert sum(shares) == DEFAULT_SITE_CONCURRENCY


def test_the_rate_is_split_evenly_and_the_tightest_limit_wins() -> None:
    capped = site(max_requests_per_second=6.0, crawl_delay=0.5)  # 6/s and 2/s: 2/s
    assert rate_limit(capped) == 2.0
    assert share_of(capped, ["a", "b"], "a") == Share(1.0, 4)
    assert share_of(site(), ["a"], "a").rate is None  # no cap
    assert share_of(site(max_concurrent_requests=3), [], "me") == Share(None, 3)


def test_a_slow_down_halves_the_fleets_rate_and_it_recovers_step_by_step() -> None:
    lowered = slowed(site(max_requests_per_second=8.0), 0.0, NOW, 1.0)
    assert (lowered.adaptive_rate, rate_limit(lowered)) == (4.0, 4.0)
    rates = [rate_limit(lowered)]
    now = NOW
    while lowered.adaptive_rate is not None:
        now += timedelta(seconds=1)
        lowered = recovered(lowered, now, 1.0)
        rates.append(rate_limit(lowered))
    assert rates == [4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0]
    assert lowered.rate_before is None


def test_one_change_per_gap_whoever_asks() -> None:
    lowered = slowed(site(max_requests_per_second=8.0), 0.0, NOW, 1.0)
    again = slowed(lowered, 0.0, NOW + timedelta(seconds=0.5), 1.0)  # the same burst of 429s
    assert again.adaptive_rate == 4.0
    assert recovered(lowered, NOW + timedelta(seconds=0.5), 1.0).adaptive_rate == 4.0
    later = slowed(lowered, 0.0, NOW + timedelta(seconds=1), 1.0)
    assert later.adaptive_rate == 2.0


def test_without_a_cap_the_fleet_slows_from_what_it_sent_and_recovers_to_it() -> None:
    lowered = slowed(site(), 12.0, NOW, 1.0)  # the members sent 12/s together
    assert (lowered.adaptive_rate, lowered.rate_before) == (6.0, 12.0)
    now = NOW
    for _ in range(12):
        now += timedelta(seconds=1)
        lowered = recovered(lowered, now, 1.0)
    assert lowered.adaptive_rate is None and rate_limit(lowered) is None


def test_the_rate_never_falls_below_one_request_a_minute() -> None:
    lowered = site(max_requests_per_second=0.02)
    for n in range(5):
        lowered = slowed(lowered, 0.0, NOW + timedelta(seconds=n), 1.0)
    assert lowered.adaptive_rate == MIN_RATE


async def test_the_limiter_keeps_concurrency_and_spacing() -> None:
    limiter = SiteLimiter()
    await limiter.set(20.0, 2)  # 2 in flight, starts 50 ms apart
    loop = asyncio.get_running_loop()
    starts: list[float] = []
    in_flight = peak = 0

    async def request() -> None:
        nonlocal in_flight, peak
        async with limiter.slot():
            starts.append(loop.time())
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.12)
            in_flight -= 1

    await asyncio.gather(*(request() for _ in range(8)))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert peak == 2
    assert min(gaps) >= 0.045
    assert limiter.sent() > 0 and limiter.started == 0


async def test_a_limiter_without_a_share_lets_everything_through() -> None:
    limiter = SiteLimiter()
    limiter.slow_down()  # no share yet: a lone Crawler's pacer slows itself
    async with limiter.slot(), limiter.slot(), limiter.slot():
        assert limiter.in_flight == 3
