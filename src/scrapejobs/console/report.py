"""``scrapejobs stats``: the analytics of ``GET /api/scrape-jobs/stats`` as a report.

Sections follow the response: jobs by status, the seed's ``retryMetrics``,
then ``failureAnalysis`` (most retried domains, common failure patterns,
success by retry number) and the recommendations with their evidence. A
rate the server could not compute (``null``, no data yet) shows as ``n/a``.
Missing blocks are skipped, so a report still renders from an older server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from scrapejobs.console.views import STATUS_STYLES, cell, moment

__all__ = ["percent", "stats_report"]

Data = Mapping[str, Any]

IMPACT_STYLES = {"high": "bold red", "medium": "yellow", "low": "dim"}
ORDINAL_RETRIES = (
    ("firstRetrySuccess", "first retry"),
    ("secondRetrySuccess", "second retry"),
    ("thirdRetrySuccess", "third retry"),
)


def percent(rate: Any) -> str:
    """``0.6667`` -> ``66.7%``; ``None`` -> ``n/a``."""
    if not isinstance(rate, (int, float)) or isinstance(rate, bool):
        return "n/a"
    return f"{rate * 100:.1f}%"


def stats_report(data: Data) -> RenderableType:
    """The whole report."""
    analysis = data.get("failureAnalysis") or {}
    parts: list[RenderableType] = [_title(data)]
    parts += _jobs(data.get("jobs") or {})
    parts += _retry_metrics(data.get("retryMetrics") or {})
    parts += _ranking(
        "Most retried domains",
        analysis.get("mostRetriedDomains"),
        [
            ("Domain", "domain", str),
            ("Retries", "retries", str),
            ("Retried jobs", "retriedJobs", str),
        ],
    )
    parts += _ranking(
        "Common failure patterns",
        analysis.get("commonFailurePatterns"),
        [
            ("Pattern", "failurePattern", str),
            ("Failures", "failures", str),
            ("Share", "share", percent),
        ],
    )
    parts += _ranking(
        "Success by retry number",
        analysis.get("retryEffectiveness"),
        [
            ("Retry", "retry", str),
            ("Finished", "finished", str),
            ("Succeeded", "succeeded", str),
            ("Success rate", "successRate", percent),
        ],
    )
    parts += _recommendations(analysis.get("recommendations"))
    return Group(*parts)


def _title(data: Data) -> Text:
    scope = {key: value for key, value in (data.get("scope") or {}).items() if value is not None}
    where = ", ".join(f"{key} {value}" for key, value in scope.items()) or "all jobs"
    title = Text("Retry report", style="bold")
    title.append(f" - {where}", style="")
    if data.get("generatedAt"):
        title.append(f" (generated {moment(data['generatedAt'])})", style="dim")
    return title


def _heading(text: str) -> Text:
    return Text(f"\n{text}", style="bold underline")


def _jobs(jobs: Data) -> list[RenderableType]:
    if not jobs:
        return []
    line = Text(f"{jobs.get('total', 0)} jobs: ")
    by_status = jobs.get("byStatus") or {}
    for n, (status, count) in enumerate(by_status.items()):
        line.append(", " if n else "")
        line.append(f"{count} {status}", style=STATUS_STYLES.get(status, ""))
    return [_heading("Jobs"), line]


def _retry_metrics(metrics: Data) -> list[RenderableType]:
    if not metrics:
        return []
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(justify="right")
    grid.add_row("Total retries", cell(metrics.get("totalRetries")))
    grid.add_row("Retry success rate", percent(metrics.get("retrySuccessRate")))
    grid.add_row("Average retries per retried job", _number(metrics.get("avgRetriesPerJob")))
    effectiveness = metrics.get("retryEffectiveness") or {}
    for key, label in ORDINAL_RETRIES:
        if key in effectiveness:
            grid.add_row(f"Success on the {label}", percent(effectiveness[key]))
    parts: list[RenderableType] = [_heading("Retry metrics"), grid]
    by_error = metrics.get("retrysByErrorType") or {}
    if by_error:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
        table.add_column("Retries by error type")
        table.add_column("Retries", justify="right")
        for error_type, count in sorted(by_error.items(), key=lambda item: -item[1]):
            table.add_row(Text(error_type), str(count))
        parts.append(table)
    return parts


def _number(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "n/a"
    return f"{value:.2f}".rstrip("0").rstrip(".")


Column = tuple[str, str, Any]


def _ranking(
    title: str, rows: Sequence[Data] | None, columns: list[Column]
) -> list[RenderableType]:
    if rows is None:
        return []
    if not rows:
        return [_heading(title), Text("no data yet", style="dim")]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header, _key, _fmt in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(_formatted(row.get(key), fmt) for _header, key, fmt in columns))
    return [_heading(title), table]


def _formatted(value: Any, fmt: Any) -> Text:
    return cell(value) if value is None else Text(fmt(value))


def _recommendations(advice: Sequence[Data] | None) -> list[RenderableType]:
    if advice is None:
        return []
    if not advice:
        return [_heading("Recommendations"), Text("none: nothing stands out", style="dim")]
    parts: list[RenderableType] = [_heading("Recommendations")]
    for n, item in enumerate(advice, 1):
        impact = str(item.get("impact", "-"))
        line = Text(f"{n}. ")
        line.append(f"[{impact}]", style=IMPACT_STYLES.get(impact, ""))
        line.append(f" {item.get('message', '')} ({item.get('type', '-')})")
        parts.append(line)
        evidence = item.get("evidence") or {}
        if evidence:
            parts.append(Text("   evidence: " + _evidence(evidence), style="dim"))
    return parts


def _evidence(evidence: Data) -> str:
    """``{"timeoutFailures": 4, "share": 0.6667}`` -> ``timeoutFailures 4, share 66.7%``."""
    shown = []
    for key, value in evidence.items():
        is_rate = isinstance(value, float) and ("share" in key.lower() or "rate" in key.lower())
        if is_rate:
            shown.append(f"{key} {percent(value)}")
        elif isinstance(value, list):
            shown.append(f"{key} {', '.join(str(item) for item in value) or 'none'}")
        else:
            shown.append(f"{key} {cell(value).plain}")
    return ", ".join(shown)
