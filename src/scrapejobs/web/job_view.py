"""One job's page as view models: the retry control, the attempt timeline, config history.

Pure: built from a ``Job``, its events (``JobManager.get_events``) and its
stored pages, with ``now`` passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from scrapejobs.events import Attempt, EventKind, JobEvent, attempts_from_events, retry_label
from scrapejobs.jobs import DEFAULT_CONFIG, Job, JobStatus, LastRetry, timestamp
from scrapejobs.retry import manual_retry_refusal
from scrapejobs.sites import Site, SiteStatus
from scrapejobs.web.views import (
    display_value,
    duration,
    next_run,
    parse_timestamp,
    relative,
    retries_label,
    safe_href,
    when,
)

__all__ = [
    "AttemptRow",
    "ConfigChange",
    "ConfigRow",
    "PageRow",
    "RetryControl",
    "RetryInfo",
    "SummaryItem",
    "Timeline",
    "can_cancel",
    "can_delete",
    "config_rows",
    "job_summary",
    "metadata_rows",
    "page_rows",
    "refusal_text",
    "retry_control",
    "timeline",
]


def can_cancel(job: Job) -> bool:
    return job.status in (JobStatus.PENDING, JobStatus.RUNNING)


def can_delete(job: Job) -> bool:
    return job.status is not JobStatus.RUNNING


@dataclass(frozen=True, slots=True)
class RetryControl:
    """The seed's ``RetryJobButton``, decided on the server.

    ``ready``: a ``Retry (n/max)`` button and ``Next attempt will be attempt
    n+1 of max``. ``exhausted``: a failed job with ``retry_count >=
    max_retries``, no button. ``unavailable``: the job is not failed (the
    reason is the API's).
    """

    state: Literal["ready", "exhausted", "unavailable"]
    label: str
    info: str = ""
    reason: str = ""


def retry_control(job: Job) -> RetryControl:
    n, limit = job.retry_count, job.max_retries
    if job.status is JobStatus.FAILED and job.retries_exhausted:
        return RetryControl("exhausted", f"Max retries reached ({n}/{limit})", "Permanent failure")
    refusal = manual_retry_refusal(job)
    if refusal is None:
        return RetryControl(
            "ready", f"Retry ({n}/{limit})", f"Next attempt will be attempt {n + 1} of {limit}"
        )
    return RetryControl("unavailable", f"Retries used: {n}/{limit}", reason=refusal.reason)


def refusal_text(message: str, details: Any) -> str:
    """The API's refusal with its reason: ``Job cannot be retried: Job is already queued``."""
    if isinstance(details, Mapping):
        if details.get("reason"):
            return f"{message}: {details['reason']}"
        if "maxRetries" in details:
            return f"{message} ({details.get('currentRetries')}/{details['maxRetries']})"
    if isinstance(details, str) and details:
        return f"{message}: {details}"
    return message


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A config key a retry (or an edit) changed; ``before`` is None when not recorded."""

    key: str
    after: str
    before: str | None = None


@dataclass(frozen=True, slots=True)
class RetryInfo:
    """A retry as the history recorded it: who, when, why, for when, what it changed."""

    number: int
    at: datetime
    actor: str
    reason: str
    scheduled_at: datetime | None
    answered: str
    changes: tuple[ConfigChange, ...] = ()

    @property
    def automatic(self) -> bool:
        return self.actor == "system"


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One run in the attempt timeline, with the retry that started it (if any)."""

    number: int
    started: str
    started_iso: str
    finished: str
    duration: str
    outcome: str
    error_type: str
    failure_pattern: str
    http_status: str
    message: str
    worker: str
    retried_by: RetryInfo | None = None
    label: str = ""
    """``original``, ``retry 1``...: as the seed counts (``events.retry_label``)."""


@dataclass(frozen=True, slots=True)
class Timeline:
    attempts: list[AttemptRow]
    retries: list[RetryInfo]
    upcoming: RetryInfo | None
    """A retry whose attempt has not started yet."""
    edits: list[tuple[JobEvent, tuple[ConfigChange, ...]]] = field(default_factory=list)


def _config_patch(event: JobEvent) -> dict[str, Any]:
    """What an event did to the config: a retry's adjustments or an edit's patch."""
    details = event.details or {}
    if event.event is EventKind.RETRIED:
        changes = details.get("configChanges")
        return dict(changes) if isinstance(changes, Mapping) else {}
    if event.event is EventKind.UPDATED:
        patch = details.get("config")
        if isinstance(patch, Mapping):
            # null restores a default (or removes startUrl), as PATCH does
            return {k: DEFAULT_CONFIG.get(k) if v is None else v for k, v in patch.items()}
    return {}


def _changes(patch: Mapping[str, Any], known: dict[str, Any]) -> tuple[ConfigChange, ...]:
    """The changes of one patch; ``before`` is known when an earlier event set the key."""
    found = []
    for key, value in patch.items():
        before = display_value(known[key]) if key in known else None
        found.append(ConfigChange(key, display_value(value), before))
        known[key] = value
    return tuple(found)


def _retry_info(event: JobEvent, changes: tuple[ConfigChange, ...]) -> RetryInfo:
    details = event.details or {}
    return RetryInfo(
        number=event.retry_count,
        at=event.at,
        actor=event.actor,
        reason=str(details.get("reason") or ""),
        scheduled_at=parse_timestamp(details.get("scheduledAt")),
        answered=event.error_type or "",
        changes=changes,
    )


def _attempt_row(run: Attempt, retried_by: RetryInfo | None) -> AttemptRow:
    return AttemptRow(
        number=run.attempt,
        started=when(run.started_at),
        started_iso=timestamp(run.started_at),
        finished=when(run.finished_at),
        duration=duration(run.started_at, run.finished_at),
        outcome=run.outcome,
        error_type=run.errorType or "",
        failure_pattern=run.failurePattern or "",
        http_status=str(run.httpStatus) if run.httpStatus is not None else "",
        message=run.error_message or run.note or "",
        worker=run.workerId,
        retried_by=retried_by,
        label=retry_label(run.retry_count),
    )


def timeline(events: Sequence[JobEvent]) -> Timeline:
    """Attempts oldest first, each with the retry that led to it, from a job's events."""
    runs = {run.attempt: run for run in attempts_from_events(list(events))}
    known: dict[str, Any] = {}
    retries: list[RetryInfo] = []
    edits: list[tuple[JobEvent, tuple[ConfigChange, ...]]] = []
    cause: dict[int, RetryInfo] = {}
    waiting: RetryInfo | None = None
    for event in events:
        changes = _changes(_config_patch(event), known)
        if event.event is EventKind.RETRIED:
            waiting = _retry_info(event, changes)
            retries.append(waiting)
        elif event.event is EventKind.UPDATED and changes:
            edits.append((event, changes))
        elif event.event is EventKind.STARTED and event.attempt is not None:
            if waiting is not None:
                cause[event.attempt] = waiting
            waiting = None
    attempts = [_attempt_row(run, cause.get(number)) for number, run in sorted(runs.items())]
    return Timeline(attempts, retries, waiting, edits)


@dataclass(frozen=True, slots=True)
class ConfigRow:
    key: str
    value: str
    changes: tuple[str, ...] = ()


def _change_text(change: ConfigChange, source: str) -> str:
    if change.before is None:
        return f"{source}: set to {change.after}"
    return f"{source}: {change.before} → {change.after}"


def config_rows(config: Mapping[str, Any], history: Timeline) -> list[ConfigRow]:
    """The config as it is now, each key with the retries and edits that changed it."""
    notes: dict[str, list[str]] = {}
    for retry in history.retries:
        source = f"retry {retry.number} ({retry.actor})"
        for change in retry.changes:
            notes.setdefault(change.key, []).append(_change_text(change, source))
    for event, changes in history.edits:
        for change in changes:
            notes.setdefault(change.key, []).append(_change_text(change, f"edit ({event.actor})"))
    keys = [key for key in DEFAULT_CONFIG if key in config]
    keys += [key for key in config if key not in DEFAULT_CONFIG]
    return [ConfigRow(key, display_value(config[key]), tuple(notes.get(key, ()))) for key in keys]


def metadata_rows(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(key), display_value(value)) for key, value in metadata.items()]


@dataclass(frozen=True, slots=True)
class SummaryItem:
    label: str
    text: str
    iso: str | None = None
    """Set for a moment: the ``datetime`` of its ``<time>`` element."""


def _moment(label: str, moment: datetime | None, now: datetime) -> SummaryItem | None:
    if moment is None:
        return None
    return SummaryItem(label, f"{when(moment)} ({relative(moment, now)})", timestamp(moment))


def _text(label: str, value: Any) -> SummaryItem | None:
    if value is None or value == "":
        return None
    return SummaryItem(label, display_value(value))


def _next_run_item(job: Job, now: datetime) -> SummaryItem:
    if job.status is not JobStatus.PENDING:
        return SummaryItem("Next run", next_run(job, now) or "none: the job is " + job.status)
    return SummaryItem(
        "Next run",
        f"{when(job.scheduled_at)} ({next_run(job, now)})",
        timestamp(job.scheduled_at),
    )


def site_text(site: Site, now: datetime) -> str:
    """``shop.example: cooling down until 12:02:00 UTC (HTTP 429 ...)``, or ``...: open``."""
    status = site.status(now)
    if status is SiteStatus.PAUSED:
        return f"{site.site}: paused (its jobs wait until it is resumed)"
    if status is SiteStatus.CIRCUIT_OPEN and site.breaker_until is not None:
        if site.half_open(now):
            return f"{site.site}: circuit half-open, one probe job tests it ({site.breaker_reason})"
        until = _until(site.breaker_until, now)
        return f"{site.site}: circuit open until {until} ({site.breaker_reason})"
    if status is SiteStatus.COOLING_DOWN and site.cooldown_until is not None:
        until = _until(site.cooldown_until, now)
        return f"{site.site}: cooling down until {until} ({site.cooldown_reason})"
    return f"{site.site}: open"


def _until(moment: datetime, now: datetime) -> str:
    return f"{when(moment)}, {relative(moment, now)}"


def job_summary(job: Job, now: datetime, site: Site | None = None) -> list[SummaryItem]:
    """The facts at the top of a job's page, empty ones left out (``site``: its site's state)."""
    failure, retry = job.failure, job.last_retry
    lease = f" (lease until {when(job.lease_expires_at)})" if job.lease_expires_at else ""
    items = [
        SummaryItem("Status", job.status.value),
        SummaryItem("Type", job.job_type.value),
        SummaryItem("Priority", str(job.priority)),
        SummaryItem("Retries", retries_label(job)),
        _next_run_item(job, now),
        SummaryItem("Site", site_text(site, now) if site else job.site),
        _text("Failure pattern", job.failure_pattern),
        _text("Error type", failure.error_type.value if failure else None),
        _text("HTTP status", failure.http_status if failure else None),
        _text("Error", job.error_message),
        _text("Previous error", retry.last_error if retry and not job.error_message else None),
        _text("No automatic retry because", job.no_retry_reason),
        _text("Last retry", _last_retry(retry)),
        _moment("Created", job.created_at, now),
        _moment("Updated", job.updated_at, now),
        _moment("Started", job.started_at, now),
        _moment("Ended", job.completed_at, now),
        _text("Worker", f"{job.worker_id}{lease}" if job.worker_id else None),
    ]
    return [item for item in items if item is not None]


def _last_retry(retry: LastRetry | None) -> str | None:
    if retry is None:
        return None
    return f"{when(retry.retried_at)} by {retry.retried_by}: {retry.reason}"


@dataclass(frozen=True, slots=True)
class PageRow:
    """A crawled page; ``href`` only when its URL is safe to link to."""

    url: str
    href: str | None
    status: str
    title: str
    error: str


def page_rows(rows: Iterable[Mapping[str, Any]]) -> list[PageRow]:
    return [
        PageRow(
            url=str(row.get("url") or ""),
            href=safe_href(row.get("url")),
            status=str(row["status"]) if row.get("status") is not None else "",
            title=str(row.get("title") or ""),
            error=str(row.get("error") or ""),
        )
        for row in rows
    ]
