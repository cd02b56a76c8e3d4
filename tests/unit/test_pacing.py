"""The crawl's pace: a 429 or 503 halves the rate, each other answer regains 0.5/s (AIMD)."""

from __future__ import annotations

import pytest

from scrapejobs.crawler.pacing import MAX_INTERVAL, Pacer


def test_a_stray_503_is_recovered_from_step_by_step() -> None:
    pacer = Pacer()
    pacer.slow_down(0)
    intervals = [pacer.interval]
    while pacer.interval > 0:
        pacer.speed_up(1)
        intervals.append(pacer.interval)
    assert [round(i, 2) for i in intervals[:5]] == [1.0, 0.67, 0.5, 0.4, 0.33]
    assert len(intervals) == 19  # 18 answers back to unpaced
    assert sum(intervals) == pytest.approx(5.1, abs=0.1)


def test_recovery_stops_at_the_configured_delay() -> None:
    pacer = Pacer(0.5)
    pacer.slow_down(0)
    assert pacer.interval == 1.0
    pacer.speed_up(1)
    assert pacer.interval == pytest.approx(1 / 1.5)
    pacer.speed_up(1)
    assert pacer.interval == 0.5
    pacer.speed_up(1)
    assert pacer.interval == 0.5  # never faster than the delay


def test_slow_downs_double_up_to_a_minute() -> None:
    pacer = Pacer()
    for generation in range(10):
        pacer.slow_down(generation)
    assert pacer.interval == MAX_INTERVAL


def test_answers_to_requests_sent_before_a_slow_down_do_not_count() -> None:
    pacer = Pacer()
    pacer.slow_down(0)
    pacer.slow_down(0)  # a second 429 of the same generation
    assert pacer.interval == 1.0
    pacer.speed_up(0)  # a request sent before the slow-down
    assert pacer.interval == 1.0


def test_a_crawl_delay_raises_the_floor() -> None:
    pacer = Pacer(0.2)
    pacer.at_least(2.0)
    pacer.slow_down(0)
    assert pacer.interval == 4.0
    for _ in range(5):
        pacer.speed_up(1)
    assert pacer.interval == 2.0
