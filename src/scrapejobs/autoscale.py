"""Concurrency that sizes itself: how many jobs a worker runs at once.

A crawl mostly waits on the network, so a fixed handful of slots leaves a
machine idle while a queue of jobs waits (issue 14 measured ``make run``'s two
slots at about 170 fast-failing jobs in 4 minutes). Following Crawlee's
``AutoscaledPool``, a worker starts at ``minimum`` and, every ``interval``,
looks at what the machine went through since the last look:

* **overloaded** when the event loop was late by more than ``max_lag`` (50 ms,
  Crawlee's ``maxBlockedMillis``) in over 40 % of the samples, or the process
  used more than ``max_cpu`` of a core, or the machine's free memory fell under
  ``min_free_memory``: one step down (5 % of ``maximum``, at least 1);
* else, when the worker used nearly all it had (running >= 90 % of the
  target, Crawlee's ``desiredConcurrencyRatio``): one step up, up to
  ``maximum`` (``--concurrency``, now an upper bound).

The class is pure: the worker feeds it samples and asks it for the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Autoscaler", "Load"]


@dataclass(frozen=True, slots=True)
class Load:
    """What a worker measured over one interval."""

    lag_samples: tuple[float, ...] = ()
    """How late (seconds) each of the interval's event-loop probes woke up."""
    cpu: float = 0.0
    """The process's CPU time over the interval's wall time (1.0 = one full core)."""
    free_memory: float | None = None
    """The machine's available memory, as a share of all of it; None if unknown."""


@dataclass(slots=True)
class Autoscaler:
    minimum: int
    maximum: int
    max_lag: float = 0.05
    lagging_share: float = 0.4
    max_cpu: float = 0.95
    min_free_memory: float = 0.1
    busy_ratio: float = 0.9
    step_ratio: float = 0.05
    target: int = field(init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError("concurrency must be 1 <= minimum <= maximum")
        self.target = self.minimum

    @property
    def step(self) -> int:
        return max(1, math.ceil(self.maximum * self.step_ratio))

    def overloaded(self, load: Load) -> bool:
        lagging = sum(1 for lag in load.lag_samples if lag > self.max_lag)
        if load.lag_samples and lagging > self.lagging_share * len(load.lag_samples):
            return True
        if load.cpu > self.max_cpu:
            return True
        return load.free_memory is not None and load.free_memory < self.min_free_memory

    def adjust(self, load: Load, running: int) -> int:
        """The new target, from the interval's ``load`` and the jobs ``running`` now.

        >>> pool = Autoscaler(minimum=2, maximum=40)
        >>> pool.adjust(Load(), running=2)  # busy, and the machine is fine: up
        4
        >>> pool.adjust(Load(cpu=1.0), running=4)  # a core used up: down
        2
        >>> pool.adjust(Load(), running=0)  # nothing to do: stays
        2
        """
        if self.overloaded(load):
            self.target = max(self.minimum, self.target - self.step)
        elif running >= self.busy_ratio * self.target:
            self.target = min(self.maximum, self.target + self.step)
        return self.target
