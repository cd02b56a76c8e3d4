"""The activity charts and the running-now table, as the templates draw them.

Pure. :func:`activity_view` turns an :class:`~scrapejobs.activity.Activity`
into column charts: one SVG per series (a column per time bucket, its height
relative to the series' peak; SVG attributes, not styles, so the strict CSP
holds) with the numbers as text beside it and in a table, which is what a
screen reader reads. :func:`running_row` is one running job with its live
progress (pages stored by the attempt, of the most it may store).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scrapejobs.activity import Activity, LatencySummary, Span
from scrapejobs.events import retry_label
from scrapejobs.jobs import Job, JobType, timestamp
from scrapejobs.web.views import duration, relative, when

__all__ = [
    "CHART_HEIGHT",
    "ActivityView",
    "RunningRow",
    "activity_view",
    "page_limit",
    "parse_span",
    "running_row",
    "wait_text",
]

CHART_HEIGHT = 40
"""The columns' height in SVG units; the width is one unit per bucket."""
SPAN_LABELS = {Span.HOUR: "Last hour, per minute", Span.DAY: "Last day, per 15 minutes"}


@dataclass(frozen=True, slots=True)
class Column:
    x: float
    y: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class Series:
    id: str
    label: str
    total: str
    """What the series adds up to (a count), or its summary (a wait)."""
    columns: list[Column]
    peak: str
    """The value of the tallest column, as text (the chart's scale)."""


@dataclass(frozen=True, slots=True)
class BucketRow:
    start: str
    start_iso: str
    cells: list[tuple[str, str]]
    """(series id, value as text)."""


@dataclass(frozen=True, slots=True)
class ActivityView:
    span: str
    caption: str
    spans: list[tuple[str, str, bool]]
    """(key, label, current) of the ranges to switch to."""
    width: int
    height: int
    start: str
    end: str
    start_iso: str
    refreshed_iso: str
    throughput: list[Series]
    throughput_rows: list[BucketRow]
    latency: list[Series]
    latency_rows: list[BucketRow]
    latency_headline: list[tuple[str, str]]


def parse_span(raw: str | None) -> Span:
    """``hour`` (the default) or ``day``; anything else is the default."""
    return next((span for span in Span if span.key == raw), Span.HOUR)


def wait_text(seconds: float | None) -> str:
    """``500 ms``, ``30.0 s``, ``1 min 30 s``; ``—`` without a wait."""
    if seconds is None:
        return "—"
    start = datetime(2000, 1, 1)
    return duration(start, start + timedelta(seconds=seconds))


def _columns(values: list[float], titles: list[str]) -> list[Column]:
    top = max(values, default=0.0)
    columns = []
    for i, (value, title) in enumerate(zip(values, titles, strict=True)):
        height = round(value / top * CHART_HEIGHT, 2) if top else 0.0
        columns.append(Column(i + 0.1, round(CHART_HEIGHT - height, 2), height, title))
    return columns


def _bucket_label(start: datetime, span: Span) -> str:
    return when(start)[11:16] if span is Span.HOUR else when(start)[5:16]


def _count_series(activity: Activity, kind: str, label: str) -> Series:
    values = [float(getattr(bucket, kind)) for bucket in activity.throughput]
    titles = [
        f"{_bucket_label(b.start, activity.span)} UTC: {int(v)} {kind}"
        for b, v in zip(activity.throughput, values, strict=True)
    ]
    return Series(
        kind, label, f"{int(sum(values))}", _columns(values, titles), f"{int(max(values))}"
    )


def _wait_series(activity: Activity, key: str, label: str) -> Series:
    values = [getattr(bucket.latency, key) for bucket in activity.latency]
    titles = [
        f"{_bucket_label(b.start, activity.span)} UTC: {label} {wait_text(v)}"
        for b, v in zip(activity.latency, values, strict=True)
    ]
    numbers = [v or 0.0 for v in values]
    total = wait_text(getattr(activity.overall, key))
    peak = wait_text(max(numbers)) if any(numbers) else "—"
    return Series(key, label, total, _columns(numbers, titles), peak)


def _headline(summary: LatencySummary) -> list[tuple[str, str]]:
    return [
        ("Attempts started", str(summary.count)),
        ("p50 wait", wait_text(summary.p50)),
        ("p95 wait", wait_text(summary.p95)),
        ("Longest wait", wait_text(summary.max)),
    ]


def _throughput_rows(activity: Activity) -> list[BucketRow]:
    return [
        BucketRow(
            _bucket_label(b.start, activity.span),
            timestamp(b.start),
            [
                ("completed", str(b.completed)),
                ("failed", str(b.failed)),
                ("retried", str(b.retried)),
            ],
        )
        for b in activity.throughput
        if b.completed or b.failed or b.retried
    ]


def _latency_rows(activity: Activity) -> list[BucketRow]:
    return [
        BucketRow(
            _bucket_label(b.start, activity.span),
            timestamp(b.start),
            [
                ("count", str(b.latency.count)),
                ("p50", wait_text(b.latency.p50)),
                ("p95", wait_text(b.latency.p95)),
                ("max", wait_text(b.latency.max)),
            ],
        )
        for b in activity.latency
        if b.latency.count
    ]


def activity_view(activity: Activity) -> ActivityView:
    win = activity.window
    return ActivityView(
        span=activity.span.key,
        caption=SPAN_LABELS[activity.span],
        spans=[(s.key, SPAN_LABELS[s], s is activity.span) for s in Span],
        width=win.buckets,
        height=CHART_HEIGHT,
        start=when(win.start),
        end=when(activity.now),
        start_iso=timestamp(win.start),
        refreshed_iso=timestamp(activity.now),
        throughput=[
            _count_series(activity, "completed", "Completed"),
            _count_series(activity, "failed", "Failed attempts"),
            _count_series(activity, "retried", "Retried"),
        ],
        throughput_rows=_throughput_rows(activity),
        latency=[_wait_series(activity, "p95", "p95"), _wait_series(activity, "p50", "p50")],
        latency_rows=_latency_rows(activity),
        latency_headline=_headline(activity.overall),
    )


# -- running now ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunningRow:
    id: str
    domain: str
    job_type: str
    worker: str
    attempt: str
    """``1`` (the original), ``2 (retry 1)``, ..."""
    started: str
    started_iso: str
    running_for: str
    lease: str
    lease_iso: str
    lease_expired: bool
    pages: int
    limit: int
    percent: float


def page_limit(job: Job) -> int:
    """The most pages the attempt may store: 1 for a page_scrape, else ``maxPages``."""
    if job.job_type is JobType.PAGE_SCRAPE:
        return 1
    limit = job.config.get("maxPages")
    return limit if isinstance(limit, int) and limit > 0 else 1


def _attempt_text(job: Job) -> str:
    """As the seed counts (``events.retry_label``): ``original`` or ``retry 2``."""
    return retry_label(job.retry_count)


def running_row(job: Job, pages: int, now: datetime) -> RunningRow:
    limit = page_limit(job)
    started = job.started_at or job.updated_at
    lease = job.lease_expires_at
    return RunningRow(
        id=job.id,
        domain=job.domain,
        job_type=job.job_type.value,
        worker=job.worker_id or "",
        attempt=_attempt_text(job),
        started=when(started),
        started_iso=timestamp(started),
        running_for=duration(started, now),
        lease=f"{when(lease)}, {relative(lease, now)}" if lease else "",
        lease_iso=timestamp(lease) if lease else "",
        lease_expired=lease is not None and lease < now,
        pages=pages,
        limit=limit,
        percent=round(min(pages / limit, 1.0) * 100, 1),
    )
