"""Retry analytics: the seed's ``retryMetrics`` and the failure analysis, from aggregates.

Pure: the store counts (``Store.stats_counts``: in SQL, or in memory for tests) and hands
over a few small tables of counts; this module turns them into rates, rankings
and recommendations. Every metric's definition is written down in
``docs/analytics.md``; in short, for the jobs in scope (matching the filters):

- ``totalRetries``: retries performed, the sum of ``retry_count``.
- ``avgRetriesPerJob``: ``totalRetries`` / jobs retried at least once.
- ``retrySuccessRate``: of retried jobs that have finished (completed or
  failed), the share that completed.
- ``retryEffectiveness`` for retry *k*: of the jobs whose *k*-th retry ran to an
  end, the share that completed on it. The *k*-th retry ran to an end when the
  job has more than *k* retries, or exactly *k* and is completed or failed.
- ``retrysByErrorType``: retries, by the errorType of the failure they answered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scrapejobs.failures import ErrorType
from scrapejobs.jobs import JobStatus, timestamp
from scrapejobs.sites import Site, SiteStatus

__all__ = [
    "MIN_EVIDENCE",
    "TIMEOUT_SHARE",
    "FailureTally",
    "StatsCounts",
    "failure_analysis",
    "recommendations",
    "retry_metrics",
    "stats_report",
]

TIMEOUT_SHARE = 0.3
"""The seed's rule: recommend longer timeouts when timeouts are over 30% of failures."""
LOW_RETRY_SUCCESS = 0.5
"""The seed's rule: review the retry strategy when under half of retried jobs recover."""
MIN_EVIDENCE = 3
"""Jobs (or failed attempts) it takes before a domain or pattern earns a recommendation."""
TOP = 10
"""Entries in each ranking."""
ORDINALS = ("first", "second", "third")
FINISHED = (JobStatus.COMPLETED.value, JobStatus.FAILED.value)


@dataclass(frozen=True, slots=True)
class FailureTally:
    """Failed attempts and retries, each by (failurePattern, errorType)."""

    failures: Mapping[tuple[str, str], int]
    retries: Mapping[tuple[str, str], int]
    """By the failure each retry answered."""


@dataclass(frozen=True, slots=True)
class StatsCounts:
    """What the store counts in SQL; every field is a small table of counts."""

    by_retries: Mapping[tuple[int, str], int]
    """Jobs by (retry_count, status)."""
    tally: FailureTally
    retried_domains: list[tuple[str, int, int]]
    """(domain, retries, retried jobs), most retries first, at most ``TOP``."""
    domain_errors: list[tuple[str, str, int]]
    """(errorType, domain, jobs) for jobs whose latest failure was of that type; >= MIN_EVIDENCE."""
    exhausted: Mapping[str, int]
    """Failed jobs that used all their retries, by failurePattern."""
    scope: Mapping[str, Any] = field(default_factory=dict)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _status_counts(counts: StatsCounts) -> dict[str, int]:
    by_status = dict.fromkeys((status.value for status in JobStatus), 0)
    for (_, status), jobs in counts.by_retries.items():
        by_status[status] = by_status.get(status, 0) + jobs
    return by_status


def _effectiveness(counts: StatsCounts, retry: int) -> dict[str, Any]:
    """How the ``retry``-th retry did: finished attempts, successes, rate."""
    finished = succeeded = 0
    for (retry_count, status), jobs in counts.by_retries.items():
        if retry_count > retry or (retry_count == retry and status in FINISHED):
            finished += jobs
        if retry_count == retry and status == JobStatus.COMPLETED.value:
            succeeded += jobs
    return {
        "retry": retry,
        "finished": finished,
        "succeeded": succeeded,
        "successRate": _rate(succeeded, finished),
    }


def retry_metrics(counts: StatsCounts) -> dict[str, Any]:
    """The seed's ``retryMetrics`` block, keys spelled as the seed spells them."""
    retried = {key: jobs for key, jobs in counts.by_retries.items() if key[0] > 0}
    total_retries = sum(retry_count * jobs for (retry_count, _), jobs in retried.items())
    completed = sum(jobs for (_, s), jobs in retried.items() if s == JobStatus.COMPLETED.value)
    finished = sum(jobs for (_, s), jobs in retried.items() if s in FINISHED)
    effectiveness = {
        f"{ordinal}RetrySuccess": _effectiveness(counts, k)["successRate"]
        for k, ordinal in enumerate(ORDINALS, start=1)
    }
    return {
        "totalRetries": total_retries,
        "retrySuccessRate": _rate(completed, finished),
        "avgRetriesPerJob": _rate(total_retries, sum(retried.values())),
        "retrysByErrorType": _by_error_type(counts.tally.retries),
        "retryEffectiveness": effectiveness,
    }


def _by_error_type(table: Mapping[tuple[str, str], int]) -> dict[str, int]:
    by_error_type: dict[str, int] = defaultdict(int)
    for (_, error_type), count in table.items():
        by_error_type[error_type] += count
    return dict(sorted(by_error_type.items(), key=lambda item: (-item[1], item[0])))


def _pattern_failures(counts: StatsCounts) -> dict[str, int]:
    by_pattern: dict[str, int] = defaultdict(int)
    for (pattern, _), failures in counts.tally.failures.items():
        by_pattern[pattern] += failures
    return by_pattern


def _error_failures(counts: StatsCounts, *error_types: ErrorType) -> int:
    wanted = {error_type.value for error_type in error_types}
    return sum(n for (_, error_type), n in counts.tally.failures.items() if error_type in wanted)


def failure_analysis(counts: StatsCounts, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``mostRetriedDomains``, ``commonFailurePatterns``, ``retryEffectiveness``, advice."""
    by_pattern = _pattern_failures(counts)
    total = sum(by_pattern.values())
    patterns = sorted(by_pattern.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    top_retry = max([k for k, _ in counts.by_retries] + [len(ORDINALS)])
    return {
        "mostRetriedDomains": [
            {"domain": domain, "retries": retries, "retriedJobs": jobs}
            for domain, retries, jobs in counts.retried_domains
        ],
        "commonFailurePatterns": [
            {"failurePattern": pattern, "failures": n, "share": _rate(n, total)}
            for pattern, n in patterns
        ],
        "retryEffectiveness": [_effectiveness(counts, k) for k in range(1, top_retry + 1)],
        "recommendations": recommendations(counts, metrics),
    }


def _advice(kind: str, message: str, impact: str, **evidence: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "impact": impact, "evidence": evidence}


def _seed_rules(counts: StatsCounts, metrics: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    failures = sum(counts.tally.failures.values())
    timeouts = _error_failures(counts, ErrorType.TIMEOUT)
    if failures and timeouts > failures * TIMEOUT_SHARE:
        yield _advice(
            "configuration",
            "Consider increasing default timeout values",
            "high",
            timeoutFailures=timeouts,
            failures=failures,
            share=_rate(timeouts, failures),
        )
    rate = metrics["retrySuccessRate"]
    if rate is not None and rate < LOW_RETRY_SUCCESS:
        yield _advice(
            "strategy",
            "Review retry strategy - success rate is low",
            "medium",
            retrySuccessRate=rate,
        )


_DOMAIN_ADVICE = {
    ErrorType.RATE_LIMITED.value: (
        "rate_limiting",
        "high",
        "{domain} keeps answering 429 Too Many Requests ({jobs} jobs): lower its "
        "maxConcurrentRequests and add a delay between requests",
    ),
    ErrorType.FORBIDDEN.value: (
        "access",
        "medium",
        "{domain} refuses the crawler with 403 Forbidden ({jobs} jobs): check its terms, "
        "or crawl it with a user agent it allows",
    ),
    ErrorType.DNS_RESOLUTION.value: (
        "dns",
        "medium",
        "{domain} does not resolve ({jobs} jobs): check its spelling and whether it still exists",
    ),
}


def _domain_rules(counts: StatsCounts) -> Iterable[dict[str, Any]]:
    for error_type, domain, jobs in counts.domain_errors:
        if error_type in _DOMAIN_ADVICE:
            kind, impact, message = _DOMAIN_ADVICE[error_type]
            yield _advice(
                kind,
                message.format(domain=domain, jobs=jobs),
                impact,
                domain=domain,
                errorType=error_type,
                jobs=jobs,
            )


def _missing_content_rule(counts: StatsCounts) -> Iterable[dict[str, Any]]:
    missing = _error_failures(counts, ErrorType.NOT_FOUND)
    if missing < MIN_EVIDENCE:
        return
    domains = [
        {"domain": domain, "jobs": jobs}
        for error_type, domain, jobs in counts.domain_errors
        if error_type == ErrorType.NOT_FOUND.value
    ]
    yield _advice(
        "input",
        f"{missing} attempts failed with 404 Not Found or 410 Gone: the input URLs may be "
        "stale; refresh them before retrying",
        "medium",
        failures=missing,
        domains=domains[:TOP],
    )


def _exhausted_rules(counts: StatsCounts) -> Iterable[dict[str, Any]]:
    for pattern, jobs in sorted(counts.exhausted.items(), key=lambda item: -item[1]):
        if jobs >= MIN_EVIDENCE:
            yield _advice(
                "retry_policy",
                f"{jobs} jobs used all their retries on {pattern} failures: more retries "
                "will not help; fix the cause, or wait longer between retries",
                "high",
                failurePattern=pattern,
                jobs=jobs,
            )


_IMPACT_ORDER = {"high": 0, "medium": 1, "low": 2}


def recommendations(counts: StatsCounts, metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What an operator could change, most impact first, each with its evidence."""
    found = [
        *_seed_rules(counts, metrics),
        *_exhausted_rules(counts),
        *_domain_rules(counts),
        *_missing_content_rule(counts),
    ]
    return sorted(found, key=lambda advice: _IMPACT_ORDER[advice["impact"]])


def stats_report(counts: StatsCounts, generated_at: str) -> dict[str, Any]:
    """The ``data`` of ``GET /api/scrape-jobs/stats``."""
    by_status = _status_counts(counts)
    metrics = retry_metrics(counts)
    return {
        "scope": dict(counts.scope),
        "generatedAt": generated_at,
        "jobs": {"total": sum(by_status.values()), "byStatus": by_status},
        "retryMetrics": metrics,
        "failureAnalysis": failure_analysis(counts, metrics),
    }


def site_health(
    by_state: Mapping[SiteStatus, int], held: Sequence[Site], now: datetime
) -> dict[str, Any]:
    """The fleet's sites in the stats report: how many in each state, and those
    holding their jobs back now, why and until when."""
    rows = []
    for site in held:
        hold = site.hold(now)
        until = hold[0] if hold else None
        rows.append(
            {
                "site": site.site,
                "state": site.status(now).value,
                "reason": hold[1] if hold else None,
                "until": timestamp(until) if until else None,
            }
        )
    return {
        "byState": {state.value: by_state.get(state, 0) for state in SiteStatus},
        "heldBack": rows,
    }
