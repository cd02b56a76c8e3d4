"""The autoscaled pool's rule (``scrapejobs.autoscale``), sample by sample."""

from __future__ import annotations

import pytest

from scrapejobs.autoscale import Autoscaler, Load

CALM = Load(lag_samples=(0.001,) * 10, cpu=0.3, free_memory=0.6)


def test_a_busy_pool_on_a_calm_machine_grows_to_its_maximum_and_no_further() -> None:
    pool = Autoscaler(minimum=2, maximum=20)
    targets = [pool.adjust(CALM, running=pool.target) for _ in range(30)]
    assert targets[:3] == [3, 4, 5]  # a step is 5 % of the maximum, at least one
    assert max(targets) == 20 and targets[-1] == 20


def test_an_idle_pool_does_not_grow() -> None:
    pool = Autoscaler(minimum=2, maximum=20)
    assert [pool.adjust(CALM, running=1) for _ in range(5)] == [2] * 5


@pytest.mark.parametrize(
    "load",
    [
        Load(lag_samples=(0.2,) * 5 + (0.0,) * 5, cpu=0.3),  # late in half the probes
        Load(cpu=0.99),  # a core used up
        Load(free_memory=0.05),  # the machine runs out of memory
    ],
)
def test_an_overloaded_machine_shrinks_the_pool_down_to_its_minimum(load: Load) -> None:
    pool = Autoscaler(minimum=3, maximum=100)
    for _ in range(10):
        pool.adjust(CALM, running=pool.target)
    grown = pool.target
    assert pool.adjust(load, running=grown) == grown - 5
    assert [pool.adjust(load, running=grown) for _ in range(20)][-1] == 3


def test_a_few_late_probes_are_not_overload() -> None:
    pool = Autoscaler(minimum=1, maximum=10)
    assert not pool.overloaded(Load(lag_samples=(0.2,) * 4 + (0.0,) * 6))
    assert pool.overloaded(Load(lag_samples=(0.2,) * 5 + (0.0,) * 5))


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        Autoscaler(minimum=0, maximum=4)
    with pytest.raises(ValueError):
        Autoscaler(minimum=5, maximum=4)
