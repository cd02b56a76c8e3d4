"""Activity over time: throughput and queue latency in time buckets.

Pure domain code, clock-free: the caller passes ``now``. A chart's time axis
is a :class:`Window` of equal buckets aligned to UTC (minutes, quarter
hours), the last one holding ``now``. The stores count the events of each
bucket (one grouped query in SQL); the functions here are the definitions
both stores keep, and the in-memory store's implementation:

- **throughput**: ``completed``, ``failed`` and ``retried`` events per
  bucket (a failed attempt that was retried automatically counts once in
  each of ``failed`` and ``retried``);
- **queue latency**: of the attempts started in a bucket, how long each
  waited for a worker (``JobEvent.queue_wait``: from when the job was due,
  its ``scheduled_at``, to its claim), as count, p50, p95 and max.
  Percentiles are nearest-rank: the p-th percentile of n waits is the
  ``ceil(p * n / 100)``-th smallest, always a wait that happened.

Example: ``window(HOUR, now=12:34:56)`` has 60 one-minute buckets from
11:35:00 to 12:35:00; an event at 12:34:10 is in bucket 59.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scrapejobs.events import EventKind, JobEvent
from scrapejobs.jobs import Job

__all__ = [
    "DAY",
    "HOUR",
    "PERCENTILES",
    "THROUGHPUT_EVENTS",
    "Activity",
    "LatencyBucket",
    "LatencySummary",
    "RunningNow",
    "Span",
    "ThroughputBucket",
    "Window",
    "count_events",
    "epoch_seconds",
    "latency_series",
    "nearest_rank",
    "queue_waits",
    "summarize",
    "throughput_series",
    "window",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
THROUGHPUT_EVENTS = (EventKind.COMPLETED, EventKind.FAILED, EventKind.RETRIED)
PERCENTILES = (50, 95)


class Span(enum.Enum):
    """A chart's range: (bucket width in seconds, number of buckets)."""

    HOUR = (60, 60)
    """The last hour, per minute."""
    DAY = (900, 96)
    """The last day, per 15 minutes."""

    @property
    def width(self) -> int:
        return self.value[0]

    @property
    def buckets(self) -> int:
        return self.value[1]

    @property
    def key(self) -> str:
        """``hour`` / ``day``: the name in query strings."""
        return self.name.lower()


HOUR, DAY = Span.HOUR, Span.DAY


def epoch_seconds(at: datetime) -> int:
    """Whole seconds since 1970 (floored), as both databases compute them."""
    return (at - EPOCH) // timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Window:
    """``buckets`` buckets of ``width`` seconds from ``start`` (whole seconds, UTC)."""

    start: datetime
    width: int
    buckets: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.width * self.buckets)

    @property
    def start_epoch(self) -> int:
        return epoch_seconds(self.start)

    def bucket_start(self, index: int) -> datetime:
        return self.start + timedelta(seconds=self.width * index)

    def index(self, at: datetime) -> int | None:
        """The bucket ``at`` falls in, None outside the window."""
        if not self.start <= at < self.end:
            return None
        return (epoch_seconds(at) - self.start_epoch) // self.width

    def whole(self) -> Window:
        """The same time as one bucket (for the summary over the whole range)."""
        return Window(self.start, self.width * self.buckets, 1)


def window(span: Span, now: datetime) -> Window:
    """The span's buckets, aligned to multiples of their width, the last holding ``now``."""
    last = epoch_seconds(now) // span.width * span.width
    first = last - span.width * (span.buckets - 1)
    return Window(EPOCH + timedelta(seconds=first), span.width, span.buckets)


# -- throughput -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThroughputBucket:
    start: datetime
    completed: int = 0
    failed: int = 0
    retried: int = 0


EventCounts = Mapping[tuple[EventKind, int], int]
"""Events by (kind, bucket index): what a store counts."""


def count_events(events: Iterable[JobEvent], win: Window) -> dict[tuple[EventKind, int], int]:
    """The throughput events of ``events`` by (kind, bucket); empty buckets left out."""
    counts: dict[tuple[EventKind, int], int] = defaultdict(int)
    for event in events:
        index = win.index(event.at) if event.event in THROUGHPUT_EVENTS else None
        if index is not None:
            counts[(event.event, index)] += 1
    return dict(counts)


def throughput_series(win: Window, counts: EventCounts) -> list[ThroughputBucket]:
    """Every bucket of the window, oldest first, zeros included."""
    return [
        ThroughputBucket(
            win.bucket_start(i),
            completed=counts.get((EventKind.COMPLETED, i), 0),
            failed=counts.get((EventKind.FAILED, i), 0),
            retried=counts.get((EventKind.RETRIED, i), 0),
        )
        for i in range(win.buckets)
    ]


# -- queue latency ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Waits for a worker, in seconds; None when no attempt started."""

    count: int = 0
    p50: float | None = None
    p95: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class LatencyBucket:
    start: datetime
    latency: LatencySummary


def nearest_rank(ordered: list[float], percent: int) -> float | None:
    """The ``ceil(percent * n / 100)``-th smallest of ``ordered`` (sorted), None if empty."""
    if not ordered:
        return None
    rank = -(-percent * len(ordered) // 100)
    return ordered[max(rank, 1) - 1]


def summarize(waits: Iterable[float]) -> LatencySummary:
    ordered = sorted(waits)
    if not ordered:
        return LatencySummary()
    p50, p95 = (nearest_rank(ordered, p) for p in PERCENTILES)
    return LatencySummary(len(ordered), p50, p95, ordered[-1])


def queue_waits(events: Iterable[JobEvent], win: Window) -> dict[int, LatencySummary]:
    """The waits of the attempts started in each bucket; buckets with none left out.

    Attempts started before the wait was recorded (``queue_wait`` None) are not counted.
    """
    waits: dict[int, list[float]] = defaultdict(list)
    for event in events:
        if event.event is not EventKind.STARTED or event.queue_wait is None:
            continue
        index = win.index(event.at)
        if index is not None:
            waits[index].append(event.queue_wait)
    return {index: summarize(found) for index, found in waits.items()}


def latency_series(win: Window, summaries: Mapping[int, LatencySummary]) -> list[LatencyBucket]:
    return [
        LatencyBucket(win.bucket_start(i), summaries.get(i, LatencySummary()))
        for i in range(win.buckets)
    ]


@dataclass(frozen=True, slots=True)
class Activity:
    """One range's charts: throughput and queue latency per bucket, and their totals."""

    span: Span
    window: Window
    now: datetime
    throughput: list[ThroughputBucket]
    latency: list[LatencyBucket]
    overall: LatencySummary
    """Queue latency over the whole window (percentiles do not add up from buckets)."""

    @property
    def totals(self) -> ThroughputBucket:
        return ThroughputBucket(
            self.window.start,
            completed=sum(b.completed for b in self.throughput),
            failed=sum(b.failed for b in self.throughput),
            retried=sum(b.retried for b in self.throughput),
        )


@dataclass(frozen=True, slots=True)
class RunningNow:
    """The running jobs (longest running first), each with the pages its attempt stored."""

    now: datetime
    jobs: list[tuple[Job, int]]
    total: int
    """All running jobs; ``jobs`` holds the first of them."""
