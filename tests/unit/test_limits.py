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
    joining_share,
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


def test_a_slow_down_halves_the_fleets_rate_and_it_recovers_quickly_then_gently() -> None:
    lowered = slowed(site(max_requests_per_second=8.0), 0.0, NOW, 1.0)
    assert (lowered.adaptive_rate, lowered.rate_before, rate_limit(lowered)) == (4.0, 8.0, 4.0)
    rates = [rate_limit(lowered)]
    now = NOW
    while lowered.adaptive_rate is not None:
        now += timedelta(seconds=1)
        lowered = recovered(lowered, now, 1.0)
        rates.append(rate_limit(lowered))
    # 10 % of the too-fast 8/s per second up to 90 % of it, then 0.5/s, until the cap.
    assert [round(r, 1) for r in rates if r] == [4.0, 4.8, 5.6, 6.4, 7.2, 7.7, 8.0]
    assert lowered.rate_before is None


def test_one_change_per_gap_whoever_asks() -> None:
    lowered = slowed(site(max_requests_per_second=8.0), 0.0, NOW, 1.0)
    again = slowed(lowered, 0.0, NOW + timedelta(seconds=0.5), 1.0)  # the same burst of 429s
    assert again.adaptive_rate == 4.0
    assert recovered(lowered, NOW + timedelta(seconds=0.5), 1.0).adaptive_rate == 4.0
    later = slowed(lowered, 0.0, NOW + timedelta(seconds=1), 1.0)
    assert later.adaptive_rate == 2.0


def test_without_a_cap_the_fleet_keeps_the_rate_it_learned_and_probes_above() -> None:
    lowered = slowed(site(), 12.0, NOW, 1.0)  # the members sent 12/s together
    assert (lowered.adaptive_rate, lowered.rate_before) == (6.0, 12.0)
    now = NOW
    for _ in range(6):
        now += timedelta(seconds=1)
        lowered = recovered(lowered, now, 1.0)
    assert lowered.adaptive_rate == pytest.approx(10.8 + 2 * 0.5)  # 90 % of 12, then steps
    for _ in range(10):
        now += timedelta(seconds=1)
        lowered = recovered(lowered, now, 1.0)
    assert lowered.adaptive_rate == pytest.approx(16.8)  # never cleared, still probing
    again = slowed(lowered, 0.0, now + timedelta(seconds=1), 1.0)
    assert (again.adaptive_rate, again.rate_before) == (pytest.approx(8.4), pytest.approx(16.8))


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


def test_steps_up_never_delay_a_halving() -> None:
    """Members step the rate up every interval; a 429 right after one still halves it."""
    lowered = slowed(site(max_requests_per_second=8.0), 0.0, NOW, 1.0)
    stepped = recovered(lowered, NOW + timedelta(seconds=1), 1.0)
    assert stepped.adaptive_rate == pytest.approx(4.8)
    halved = slowed(stepped, 0.0, NOW + timedelta(seconds=1.2), 1.0)
    assert halved.adaptive_rate == pytest.approx(2.4)


def test_a_joiner_takes_only_what_the_others_do_not_hold_yet() -> None:
    """The others keep their shares of the old membership until their next sync."""
    site = Site("s", datetime(2024, 1, 1, tzinfo=UTC), max_concurrent_requests=5)
    assert joining_share(site, ["a", "b"], "c").concurrency == 0  # a and b hold 3 + 2
    assert joining_share(site, [], "c") == share_of(site, ["c"], "c")  # alone: all 5
    holding = sum(share_of(site, ["a", "b"], w).concurrency for w in ("a", "b"))
    assert holding + joining_share(site, ["a", "b", "c"], "c").concurrency <= 5
    # Once everyone synced, the even shares sum to the limit again.
    assert sum(share_of(site, ["a", "b", "c"], w).concurrency for w in "abc") == 5
