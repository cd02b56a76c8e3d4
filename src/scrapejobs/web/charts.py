"""The analytics page's view model: the stats report as bar charts, headlines and advice.

Pure. Takes the ``data`` of ``GET /api/scrape-jobs/stats`` (``JobManager.stats``)
and returns what the template draws: each chart is a list of bars whose
length is a percentage (of the largest count, or the rate itself), drawn as
inline SVG next to the number it stands for, so the page needs no chart
library and reads the same to a screen reader (the numbers are text).
Missing keys and null rates (no data yet) give empty charts, never errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode

from scrapejobs.jobs import InvalidDomain, JobType, normalize_domain
from scrapejobs.web.views import display_value

__all__ = [
    "AnalyticsFilters",
    "AnalyticsView",
    "Bar",
    "Chart",
    "analytics_view",
    "count_bars",
    "parse_analytics_filters",
    "percent_text",
    "rate_bars",
]


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float | None
    display: str
    percent: float
    """0..100: the bar's length."""
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    title: str
    description: str
    bars: list[Bar]
    empty: str
    value_heading: str = "Count"


@dataclass(frozen=True, slots=True)
class Recommendation:
    type: str
    message: str
    impact: str
    evidence: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class AnalyticsView:
    headlines: list[tuple[str, str]]
    charts: list[Chart]
    recommendations: list[Recommendation]
    generated_at: str
    scope: list[tuple[str, str]] = field(default_factory=list)


def percent_text(rate: float | None) -> str:
    """``0.6667`` -> ``66.7%``; None -> ``no data``."""
    if rate is None:
        return "no data"
    return f"{rate * 100:.1f}".removesuffix(".0") + "%"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def count_bars(items: Iterable[tuple[str, Any, str | None]], unit: str = "") -> list[Bar]:
    """Bars for counts, the largest filling the width; ``items`` are (label, count, link)."""
    rows = [(label, _number(value) or 0.0, href) for label, value, href in items]
    top = max((value for _, value, _ in rows), default=0.0)
    return [
        Bar(
            label=label,
            value=value,
            display=f"{value:g}{unit}",
            percent=round(value / top * 100, 1) if top else 0.0,
            href=href,
        )
        for label, value, href in rows
    ]


def rate_bars(items: Iterable[tuple[str, Any, str]]) -> list[Bar]:
    """Bars for rates in 0..1 (the bar is the rate); ``items`` are (label, rate, note)."""
    bars = []
    for label, rate, note in items:
        value = _number(rate)
        display = percent_text(value) + (f" ({note})" if note else "")
        percent = round(min(max(value, 0.0), 1.0) * 100, 1) if value is not None else 0.0
        bars.append(Bar(label=label, value=value, display=display, percent=percent))
    return bars


def _jobs_link(scope: Mapping[str, Any], **filters: str) -> str:
    params = {
        "domain": scope.get("domain"),
        "job_type": scope.get("job_type"),
        **filters,
    }
    return "/jobs?" + urlencode({k: v for k, v in params.items() if v})


def _status_chart(stats: Mapping[str, Any], scope: Mapping[str, Any]) -> Chart:
    by_status = stats.get("jobs", {}).get("byStatus", {}) or {}
    items = [(status, n, _jobs_link(scope, status=status)) for status, n in by_status.items()]
    return Chart(
        "jobs-by-status",
        "Jobs by status",
        "How many jobs are in each state.",
        count_bars(items) if any(n for _, n, _ in items) else [],
        "No jobs yet.",
        "Jobs",
    )


def _error_type_chart(metrics: Mapping[str, Any]) -> Chart:
    by_type = metrics.get("retrysByErrorType", {}) or {}
    return Chart(
        "retries-by-error-type",
        "Retries by error type",
        "Retries performed, by the error type of the failure each one answered.",
        count_bars((error_type, n, None) for error_type, n in by_type.items()),
        "No retries yet.",
        "Retries",
    )


def _effectiveness_rows(stats: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    rows = stats.get("failureAnalysis", {}).get("retryEffectiveness")
    if isinstance(rows, list):
        return [
            (
                f"Retry {row.get('retry')}",
                row.get("successRate"),
                f"{row.get('succeeded', 0)} of {row.get('finished', 0)}",
            )
            for row in rows
        ]
    seed = stats.get("retryMetrics", {}).get("retryEffectiveness", {}) or {}
    return [(key.removesuffix("RetrySuccess") + " retry", rate, "") for key, rate in seed.items()]


def _effectiveness_chart(stats: Mapping[str, Any]) -> Chart:
    rows = _effectiveness_rows(stats)
    return Chart(
        "retry-effectiveness",
        "Retry effectiveness by retry number",
        "Of the jobs whose k-th retry ran to an end, the share that completed on it.",
        rate_bars(rows) if any(rate is not None for _, rate, _ in rows) else [],
        "No retry has finished yet.",
        "Success rate",
    )


def _pattern_chart(analysis: Mapping[str, Any], scope: Mapping[str, Any]) -> Chart:
    patterns = analysis.get("commonFailurePatterns", []) or []
    items = [
        (
            row.get("failurePattern", ""),
            row.get("failures", 0),
            _jobs_link(scope, failure_pattern=row.get("failurePattern", "")),
        )
        for row in patterns
    ]
    bars = count_bars(items)
    shares = [percent_text(_number(row.get("share"))) for row in patterns]
    bars = [
        Bar(bar.label, bar.value, f"{bar.display} ({share})", bar.percent, bar.href)
        for bar, share in zip(bars, shares, strict=True)
    ]
    return Chart(
        "failure-patterns",
        "Failure patterns",
        "Failed attempts by failure pattern, with each pattern's share of all failures.",
        bars,
        "No failed attempts yet.",
        "Failures",
    )


def _domain_chart(analysis: Mapping[str, Any]) -> Chart:
    domains = analysis.get("mostRetriedDomains", []) or []
    bars = count_bars(
        (row.get("domain", ""), row.get("retries", 0), _jobs_link({}, domain=row.get("domain")))
        for row in domains
    )
    jobs = [row.get("retriedJobs", 0) for row in domains]
    bars = [
        Bar(
            bar.label,
            bar.value,
            f"{bar.display} ({n} job{'s' if n != 1 else ''})",
            bar.percent,
            bar.href,
        )
        for bar, n in zip(bars, jobs, strict=True)
    ]
    return Chart(
        "most-retried-domains",
        "Most retried domains",
        "Retries per domain, with how many of its jobs were retried.",
        bars,
        "No domain has been retried yet.",
        "Retries",
    )


def _headlines(stats: Mapping[str, Any]) -> list[tuple[str, str]]:
    metrics = stats.get("retryMetrics", {}) or {}
    average = _number(metrics.get("avgRetriesPerJob"))
    return [
        ("Jobs", display_value(stats.get("jobs", {}).get("total", 0))),
        ("Retries", display_value(metrics.get("totalRetries", 0))),
        ("Retry success rate", percent_text(_number(metrics.get("retrySuccessRate")))),
        ("Retries per retried job", f"{average:g}" if average is not None else "no data"),
    ]


def _evidence_value(key: str, value: Any) -> str:
    """Shares and rates as percentages, the rest as they are."""
    number = _number(value)
    if number is not None and (key == "share" or key.endswith("Rate")):
        return percent_text(number)
    return display_value(value)


def _recommendation(advice: Mapping[str, Any]) -> Recommendation:
    evidence = advice.get("evidence") or {}
    return Recommendation(
        type=str(advice.get("type", "")),
        message=str(advice.get("message", "")),
        impact=str(advice.get("impact", "")),
        evidence=[(str(key), _evidence_value(str(key), value)) for key, value in evidence.items()],
    )


def analytics_view(stats: Mapping[str, Any]) -> AnalyticsView:
    scope = stats.get("scope", {}) or {}
    analysis = stats.get("failureAnalysis", {}) or {}
    return AnalyticsView(
        headlines=_headlines(stats),
        charts=[
            _status_chart(stats, scope),
            _error_type_chart(stats.get("retryMetrics", {}) or {}),
            _effectiveness_chart(stats),
            _pattern_chart(analysis, scope),
            _domain_chart(analysis),
        ],
        recommendations=[_recommendation(advice) for advice in analysis.get("recommendations", [])],
        generated_at=str(stats.get("generatedAt", "")),
        scope=[(str(k), str(v)) for k, v in scope.items() if v is not None],
    )


@dataclass(frozen=True, slots=True)
class AnalyticsFilters:
    domain: str | None = None
    job_type: JobType | None = None
    since: datetime | None = None
    since_text: str = ""


def _since(text: str, errors: dict[str, str]) -> datetime | None:
    """A date is its first moment in UTC, as the API reads it."""
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
    except ValueError:
        errors["since"] = "must be a date, YYYY-MM-DD"
        return None


def parse_analytics_filters(params: Mapping[str, str]) -> tuple[AnalyticsFilters, dict[str, str]]:
    """The analytics page's scope from its query string, and a message per bad field."""
    errors: dict[str, str] = {}
    domain = (params.get("domain") or "").strip() or None
    if domain is not None:
        try:
            domain = normalize_domain(domain)
        except InvalidDomain as exc:
            errors["domain"] = str(exc)
            domain = None
    job_type = None
    if raw := params.get("job_type"):
        try:
            job_type = JobType(raw)
        except ValueError:
            errors["job_type"] = f"Unknown job type '{raw}'"
    since_text = (params.get("since") or "").strip()
    return AnalyticsFilters(domain, job_type, _since(since_text, errors), since_text), errors
