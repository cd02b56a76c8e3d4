"""The dashboard's forms as API requests: submit a job, bulk retry.

Pure. A form's fields are named as the API's body fields (dotted for
``config``), so the API's validation errors (``envelope.py``, field
``body.config.depth``) land next to the input they are about.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scrapejobs.jobs import Job, JobType

__all__ = [
    "BOOL_FIELDS",
    "BULK_FIELDS",
    "INT_FIELDS",
    "NEW_JOB_DEFAULTS",
    "NO_BULK_FILTER",
    "TEXT_FIELDS",
    "BulkPreview",
    "BulkResults",
    "RetryOutcome",
    "bulk_preview",
    "bulk_request_body",
    "bulk_results",
    "bulk_values",
    "errors_by_field",
    "job_request_body",
    "retry_breakdown",
    "retry_button_label",
]


@dataclass(frozen=True, slots=True)
class BulkPreview:
    """What a bulk retry will touch, counted before anyone confirms."""

    matched: int
    """Failed jobs that match the filters."""
    considered: int
    """Of them, the ones one bulk retry takes (at most its limit)."""
    retryable: int
    """Of those, under their retry limit: they will be scheduled."""
    exhausted: int
    """Of those, out of retries: they will be refused, each with the API's message."""

    @property
    def button(self) -> str:
        """The confirm button counts what will be scheduled, not what is refused."""
        return retry_button_label(self.retryable)

    @property
    def breakdown(self) -> str:
        return retry_breakdown(self.retryable, self.exhausted)


def bulk_preview(jobs: Sequence[Job], matched: int) -> BulkPreview:
    retryable = sum(not job.retries_exhausted for job in jobs)
    return BulkPreview(matched, len(jobs), retryable, len(jobs) - retryable)


def _jobs(n: int) -> str:
    return f"{n} failed job" + ("" if n == 1 else "s")


def retry_button_label(retryable: int) -> str:
    """``Retry 3 failed jobs``: the jobs a retry will schedule (under their retry limit)."""
    return f"Retry {_jobs(retryable)}"


def retry_breakdown(retryable: int, exhausted: int) -> str:
    """``3 can be retried; 1 has no retries left`` (what a retry will do and skip, and why)."""
    parts = [f"{retryable} can be retried"] if retryable or not exhausted else []
    if exhausted:
        parts.append(f"{exhausted} {'has' if exhausted == 1 else 'have'} no retries left")
    return "; ".join(parts)


BULK_FIELDS = ("domain", "failurePattern")
NO_BULK_FILTER = {"field": "body", "message": "Choose a domain or a failure pattern to retry"}
"""The bulk form's answer to an empty form (the API's message names its JSON fields)."""


def bulk_values(params: Mapping[str, str]) -> dict[str, str]:
    """The bulk form's fields (the API's names), stripped; missing ones empty."""
    return {name: (params.get(name) or "").strip() for name in BULK_FIELDS}


def bulk_request_body(values: Mapping[str, str]) -> dict[str, Any]:
    """The ``POST /api/scrape-jobs/retry`` body for the bulk form's non-empty fields."""
    return {name: values[name] for name in BULK_FIELDS if values.get(name)}


class RetryOutcome(Protocol):
    """One job's result in a bulk retry (``manager.BulkRetryResult``)."""

    @property
    def jobId(self) -> str: ...
    @property
    def success(self) -> bool: ...
    @property
    def message(self) -> str: ...
    @property
    def job(self) -> Job | None: ...


@dataclass(frozen=True, slots=True)
class BulkResults:
    summary: str
    retried: int
    rows: list[tuple[str, bool, str]]
    """(job id, scheduled?, the single retry's message)"""


def bulk_results(results: Sequence[RetryOutcome]) -> BulkResults:
    """The per-job list after a bulk retry, with the API's summary line."""
    retried = sum(result.success for result in results)
    return BulkResults(
        f"Retried {retried} of {len(results)} matching failed jobs",
        retried,
        [(result.jobId, result.success, result.message) for result in results],
    )


# -- the submit form ---------------------------------------------------------

TEXT_FIELDS = ("domain", "job_type", "config.userAgent", "config.startUrl")
INT_FIELDS = (
    "priority",
    "max_retries",
    "config.depth",
    "config.maxPages",
    "config.timeout",
    "config.delay",
    "config.maxConcurrentRequests",
    "config.maxDuration",
)
BOOL_FIELDS = ("config.respectRobots", "config.respectRetryAfter", "config.autoRetry")


def _put(body: dict[str, Any], name: str, value: Any) -> None:
    section, _, key = name.rpartition(".")
    (body.setdefault(section, {}) if section else body)[key] = value


def _integer(text: str) -> int | str:
    """An integer when the text is one; else the text, for the API's own message."""
    digits = text.removeprefix("-").removeprefix("+")
    return int(text) if digits.isascii() and digits.isdigit() else text


def _metadata(text: str) -> tuple[Any, str | None]:
    try:
        value = json.loads(text)
    except ValueError:
        return None, "must be a JSON object"
    return (value, None) if isinstance(value, dict) else (None, "must be a JSON object")


NEW_JOB_DEFAULTS: Mapping[str, str] = {
    "job_type": JobType.DOMAIN_SCRAPE.value,
    "priority": "5",
    "max_retries": "3",
    "config.respectRobots": "on",
    "config.respectRetryAfter": "on",
    "config.autoRetry": "on",
}
"""What the submit form shows first; the config's numbers are left empty (defaults apply)."""


def job_request_body(form: Mapping[str, str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The ``POST /api/scrape-jobs`` body a submit form means, and errors only a form can make.

    Empty fields are left out (the API's defaults apply); numbers are sent as
    integers when they are, else as text for ``JobCreate`` to refuse with its
    message; an unticked box is ``false``. Field names are the API's, dotted.
    """
    body: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for name in TEXT_FIELDS:
        if text := form.get(name, "").strip():
            _put(body, name, text)
    for name in INT_FIELDS:
        if text := form.get(name, "").strip():
            _put(body, name, _integer(text))
    for name in BOOL_FIELDS:
        _put(body, name, form.get(name) in ("on", "true", "1"))
    if text := form.get("metadata", "").strip():
        value, problem = _metadata(text)
        if problem:
            errors.append({"field": "body.metadata", "message": problem})
        else:
            body["metadata"] = value
    if isinstance(body.get("metadata", {}), dict):
        body["metadata"] = {"source": "dashboard", **body.get("metadata", {})}
    return body, errors


def errors_by_field(details: Iterable[Mapping[str, str]]) -> dict[str, list[str]]:
    """The API's ``[{field: "body.config.depth", message}]`` keyed by form field (``config.depth``).

    Errors about the whole body are keyed ``""``.
    """
    found: dict[str, list[str]] = {}
    for detail in details:
        name = detail["field"].removeprefix("body").removeprefix(".")
        found.setdefault(name, []).append(detail["message"])
    return found
