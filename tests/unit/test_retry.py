"""The retry policy against CONTRACT sections 5 and 6: backoff, decisions, config changes."""

from __future__ import annotations

import copy
import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scrapejobs.failures import ErrorType, Failure
from scrapejobs.jobs import DEFAULT_CONFIG, DEFAULT_USER_AGENT, Job, JobStatus, LastRetry
from scrapejobs.retry import (
    ALTERNATE_USER_AGENTS,
    GiveUp,
    RetryPlan,
    RetryPolicy,
    RetryRefused,
    manual_retry_refusal,
)
from tests.factories import build_job

NOW = datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
adjust_config = RetryPolicy().adjust_config


def make_job(
    *,
    status: JobStatus = JobStatus.FAILED,
    retry_count: int = 0,
    max_retries: int = 3,
    error_type: ErrorType | None = ErrorType.TIMEOUT,
    error_message: str = "Request timeout",
    config: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    user_agent_rotations: int = 0,
) -> Job:
    """A job as the store holds it after a failed attempt (``failure`` is that attempt's)."""
    return build_job(
        status=status,
        retry_count=retry_count,
        max_retries=max_retries,
        config={**DEFAULT_CONFIG, **(config or {})},
        metadata={"source": "api", **(metadata or {})},
        failure=Failure(error_type, error_message) if error_type else None,
        user_agent_rotations=user_agent_rotations,
    )


class EdgeRng:
    """A stand-in for random.Random whose uniform(a, b) returns one bound."""

    def __init__(self, high: bool) -> None:
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


# Typed as Any: the policy asks for random.Random but only calls uniform().
LOW: Any = EdgeRng(high=False)
HIGH: Any = EdgeRng(high=True)


# --- backoff -----------------------------------------------------------------------

# retry number -> (lowest, highest) wait with the default delays and 20% jitter.
DEFAULT_BOUNDS = [
    (1, 48.0, 72.0),
    (2, 240.0, 360.0),
    (3, 720.0, 1080.0),
    (4, 720.0, 1080.0),
    (10, 720.0, 1080.0),
]


@pytest.mark.parametrize(("retry_number", "low", "high"), DEFAULT_BOUNDS)
def test_backoff_exact_bounds(retry_number: int, low: float, high: float) -> None:
    policy = RetryPolicy()
    assert policy.backoff(retry_number, LOW) == pytest.approx(low)
    assert policy.backoff(retry_number, HIGH) == pytest.approx(high)


@pytest.mark.parametrize(("retry_number", "low", "high"), DEFAULT_BOUNDS)
def test_backoff_with_seeded_rng_stays_in_range_and_varies(
    retry_number: int, low: float, high: float
) -> None:
    rng = random.Random(20240101)
    waits = [RetryPolicy().backoff(retry_number, rng) for _ in range(500)]
    assert all(low <= wait <= high for wait in waits)
    # Jitter really spreads the waits over most of the range.
    assert max(waits) - min(waits) > 0.8 * (high - low)


def test_backoff_is_reproducible_with_the_same_seed() -> None:
    policy = RetryPolicy()
    first = [policy.backoff(n, random.Random(7)) for n in (1, 2, 3)]
    second = [policy.backoff(n, random.Random(7)) for n in (1, 2, 3)]
    assert first == second


@pytest.mark.parametrize(
    ("delays", "retry_number", "expected"),
    [
        ((10.0,), 1, 10.0),
        ((10.0,), 5, 10.0),
        ((1.0, 2.0), 1, 1.0),
        ((1.0, 2.0), 2, 2.0),
        ((1.0, 2.0), 3, 2.0),
        ((0.0,), 1, 0.0),
    ],
)
def test_backoff_without_jitter_uses_the_delay_table(
    delays: tuple[float, ...], retry_number: int, expected: float
) -> None:
    policy = RetryPolicy(delays=delays, jitter=0.0)
    assert policy.backoff(retry_number, random.Random(1)) == expected


@pytest.mark.parametrize(
    "delays",
    [(), (-1.0,), (60.0, -0.5), (math.inf,), (60.0, math.inf), (math.nan,), (-math.inf,)],
)
def test_policy_rejects_bad_delays(delays: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="delays"):
        RetryPolicy(delays=delays)


@pytest.mark.parametrize("jitter", [-0.01, -1.0, 1.0, 1.5, math.inf, math.nan])
def test_policy_rejects_jitter_outside_zero_to_one(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=jitter)


@pytest.mark.parametrize("jitter", [0.0, 0.2, 0.99])
def test_policy_accepts_jitter_in_zero_to_one(jitter: float) -> None:
    assert RetryPolicy(jitter=jitter).jitter == jitter


# --- decide: retry -----------------------------------------------------------------

RETRYABLE = [
    ErrorType.TIMEOUT,
    ErrorType.CONNECTION_REFUSED,
    ErrorType.CONNECTION_RESET,
    ErrorType.DNS_RESOLUTION,
    ErrorType.RATE_LIMITED,
    ErrorType.SERVICE_UNAVAILABLE,
    ErrorType.SERVER_ERROR,
    ErrorType.FORBIDDEN,
    ErrorType.WORKER_LOST,
    ErrorType.UNKNOWN,
]
NOT_RETRYABLE = [
    ErrorType.UNAUTHORIZED,
    ErrorType.NOT_FOUND,
    ErrorType.INVALID_URL,
    ErrorType.ROBOTS_DISALLOWED,
]


def decide(job: Job, failure: Failure, rng: Any = LOW) -> RetryPlan | GiveUp:
    """The policy's decision for ``job`` right after its attempt failed with ``failure``."""
    return RetryPolicy().decide(replace(job, failure=failure), now=NOW, rng=rng)


@pytest.mark.parametrize("error_type", RETRYABLE)
def test_decide_plans_a_retry_for_retryable_types(error_type: ErrorType) -> None:
    job = make_job(error_type=error_type, error_message="it broke")
    plan = decide(job, Failure(error_type, "it broke"))
    assert isinstance(plan, RetryPlan)
    assert plan.retry_count == 1
    assert plan.scheduled_at == NOW + timedelta(seconds=48)
    assert plan.reason == f"Automatic retry after {error_type.value} error"


@pytest.mark.parametrize(
    ("retry_count", "max_retries", "rng", "wait"),
    [
        (0, 3, LOW, 48.0),
        (0, 3, HIGH, 72.0),
        (1, 3, LOW, 240.0),
        (1, 3, HIGH, 360.0),
        (2, 3, LOW, 720.0),
        (2, 3, HIGH, 1080.0),
        (5, 10, LOW, 720.0),
        (9, 10, HIGH, 1080.0),
    ],
)
def test_decide_schedules_after_the_backoff_for_the_next_retry(
    retry_count: int, max_retries: int, rng: EdgeRng, wait: float
) -> None:
    job = make_job(retry_count=retry_count, max_retries=max_retries)
    plan = decide(job, Failure(ErrorType.TIMEOUT, "Request timeout"), rng)
    assert isinstance(plan, RetryPlan)
    assert plan.retry_count == retry_count + 1
    assert plan.scheduled_at == NOW + timedelta(seconds=wait)


def test_decide_with_seeded_rng_schedules_within_the_jitter_range() -> None:
    job = make_job()
    plan = decide(job, Failure(ErrorType.TIMEOUT, "Request timeout"), random.Random(3))
    assert isinstance(plan, RetryPlan)
    assert NOW + timedelta(seconds=48) <= plan.scheduled_at <= NOW + timedelta(seconds=72)


def test_decide_plan_records_the_retry() -> None:
    job = make_job(metadata={"note": "keep me"})
    plan = decide(job, Failure(ErrorType.TIMEOUT, "Request timeout"))
    assert isinstance(plan, RetryPlan)
    assert plan.last_retry == LastRetry(
        reason="Automatic retry after timeout error",
        last_error="Request timeout",
        retried_at=NOW,
        retried_by="system",
    )
    assert plan.user_agent_rotations == 0


def test_decide_needs_the_failure_on_the_job() -> None:
    with pytest.raises(ValueError, match="carries its failure"):
        RetryPolicy().decide(make_job(error_type=None), now=NOW, rng=LOW)


def test_decide_plan_adjusts_config_for_the_failure() -> None:
    job = make_job(config={"timeout": 30000})
    plan = decide(job, Failure(ErrorType.TIMEOUT, "Request timeout"))
    assert isinstance(plan, RetryPlan)
    assert plan.config["timeout"] == 45000
    assert {k: v for k, v in plan.config.items() if k != "timeout"} == {
        k: v for k, v in job.config.items() if k != "timeout"
    }


def test_decide_does_not_mutate_the_job() -> None:
    job = make_job(error_type=ErrorType.FORBIDDEN, error_message="403 Forbidden")
    config, metadata = copy.deepcopy(dict(job.config)), copy.deepcopy(dict(job.metadata))
    decide(job, Failure(ErrorType.FORBIDDEN, "403 Forbidden", 403))
    assert job.config == config
    assert job.metadata == metadata
    assert job.retry_count == 0


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [(1200.0, 1200.0), (48.5, 48.5), (10.0, 48.0), (0.0, 48.0)],
)
def test_decide_treats_retry_after_as_a_floor(retry_after: float, wait: float) -> None:
    job = make_job(error_type=ErrorType.RATE_LIMITED, error_message="429")
    plan = decide(job, Failure(ErrorType.RATE_LIMITED, "429", 429, retry_after))
    assert isinstance(plan, RetryPlan)
    assert plan.scheduled_at == NOW + timedelta(seconds=wait)


def test_decide_ignores_retry_after_when_config_says_so() -> None:
    job = make_job(
        error_type=ErrorType.SERVICE_UNAVAILABLE,
        error_message="503",
        config={"respectRetryAfter": False},
    )
    plan = decide(job, Failure(ErrorType.SERVICE_UNAVAILABLE, "503", 503, 1200.0))
    assert isinstance(plan, RetryPlan)
    assert plan.scheduled_at == NOW + timedelta(seconds=48)


def test_decide_forbidden_first_time_rotates_the_user_agent() -> None:
    job = make_job(error_type=ErrorType.FORBIDDEN, error_message="403 Forbidden")
    plan = decide(job, Failure(ErrorType.FORBIDDEN, "403 Forbidden", 403))
    assert isinstance(plan, RetryPlan)
    assert plan.config["userAgent"] != job.config["userAgent"]
    assert plan.user_agent_rotations == 1


# --- decide: give up ---------------------------------------------------------------


@pytest.mark.parametrize("error_type", NOT_RETRYABLE)
def test_decide_gives_up_on_permanent_failures(error_type: ErrorType) -> None:
    job = make_job(error_type=error_type, error_message="nope")
    assert isinstance(decide(job, Failure(error_type, "nope")), GiveUp)


@pytest.mark.parametrize(("retry_count", "max_retries"), [(3, 3), (4, 3), (0, 0), (10, 10)])
def test_decide_gives_up_at_the_retry_limit(retry_count: int, max_retries: int) -> None:
    job = make_job(retry_count=retry_count, max_retries=max_retries)
    decision = decide(job, Failure(ErrorType.TIMEOUT, "Request timeout"))
    assert isinstance(decision, GiveUp)
    assert decision.reason


def test_decide_plans_the_last_retry_below_the_limit() -> None:
    job = make_job(retry_count=2, max_retries=3)
    plan = decide(job, Failure(ErrorType.TIMEOUT, "Request timeout"))
    assert isinstance(plan, RetryPlan)
    assert plan.retry_count == 3


@pytest.mark.parametrize("error_type", RETRYABLE)
def test_decide_gives_up_when_auto_retry_is_off(error_type: ErrorType) -> None:
    job = make_job(error_type=error_type, config={"autoRetry": False})
    assert isinstance(decide(job, Failure(error_type, "boom")), GiveUp)


@pytest.mark.parametrize("rotations", [1, 2, 5])
def test_decide_gives_up_on_forbidden_after_a_user_agent_rotation(rotations: int) -> None:
    job = make_job(
        error_type=ErrorType.FORBIDDEN,
        error_message="403 Forbidden",
        user_agent_rotations=rotations,
    )
    assert isinstance(decide(job, Failure(ErrorType.FORBIDDEN, "403 Forbidden", 403)), GiveUp)


def test_user_agent_rotations_do_not_stop_other_retries() -> None:
    job = make_job(user_agent_rotations=1)
    assert isinstance(decide(job, Failure(ErrorType.TIMEOUT, "Request timeout")), RetryPlan)


# --- adjust_config -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (30000, 45000),
        (100, 150),
        (101, 152),  # 151.5 rounds up
        (33333, 50000),  # 49999.5 rounds up
        (80000, 120000),
        (79999, 119999),  # 119998.5 rounds up, under the cap
        (100000, 120000),
        (120000, 120000),
    ],
)
def test_adjust_timeout_multiplies_by_one_and_a_half_with_a_cap(
    timeout: int, expected: int
) -> None:
    config = {**DEFAULT_CONFIG, "timeout": timeout}
    adjusted = adjust_config(config, ErrorType.TIMEOUT)
    assert adjusted == {**config, "timeout": expected}


def test_adjust_timeout_without_a_timeout_starts_from_the_default() -> None:
    assert adjust_config({}, ErrorType.TIMEOUT) == {"timeout": 45000}


@pytest.mark.parametrize(
    ("delay", "expected_delay"), [(0, 2000), (1999, 2000), (2000, 2000), (5000, 5000)]
)
def test_adjust_rate_limited(delay: int, expected_delay: int) -> None:
    config = {
        **DEFAULT_CONFIG,
        "delay": delay,
        "maxConcurrentRequests": 8,
        "respectRetryAfter": False,
    }
    adjusted = adjust_config(config, ErrorType.RATE_LIMITED)
    assert adjusted == {
        **config,
        "maxConcurrentRequests": 1,
        "delay": expected_delay,
        "respectRetryAfter": True,
    }


def test_adjust_service_unavailable_respects_retry_after() -> None:
    config = {**DEFAULT_CONFIG, "respectRetryAfter": False}
    assert adjust_config(config, ErrorType.SERVICE_UNAVAILABLE) == {
        **config,
        "respectRetryAfter": True,
    }


@pytest.mark.parametrize("current", [DEFAULT_USER_AGENT, *ALTERNATE_USER_AGENTS])
@pytest.mark.parametrize("rotation", [0, 1, 2, 3])
def test_adjust_forbidden_picks_another_user_agent(current: str, rotation: int) -> None:
    config = {**DEFAULT_CONFIG, "userAgent": current}
    adjusted = adjust_config(config, ErrorType.FORBIDDEN, rotation)
    assert adjusted["userAgent"] != current
    assert adjusted["userAgent"]
    assert {k: v for k, v in adjusted.items() if k != "userAgent"} == {
        k: v for k, v in config.items() if k != "userAgent"
    }


@pytest.mark.parametrize(
    "error_type",
    [
        ErrorType.CONNECTION_REFUSED,
        ErrorType.CONNECTION_RESET,
        ErrorType.DNS_RESOLUTION,
        ErrorType.SERVER_ERROR,
        ErrorType.UNAUTHORIZED,
        ErrorType.NOT_FOUND,
        ErrorType.INVALID_URL,
        ErrorType.ROBOTS_DISALLOWED,
        ErrorType.WORKER_LOST,
        ErrorType.UNKNOWN,
        None,
    ],
)
def test_adjust_leaves_other_types_unchanged(error_type: ErrorType | None) -> None:
    config = {**DEFAULT_CONFIG, "delay": 0, "respectRetryAfter": False}
    assert adjust_config(config, error_type) == config


@pytest.mark.parametrize("error_type", [*ErrorType, None])
def test_adjust_never_mutates_the_original(error_type: ErrorType | None) -> None:
    config = {**DEFAULT_CONFIG, "respectRetryAfter": False, "startUrl": "https://example.com/"}
    before = copy.deepcopy(config)
    adjusted = adjust_config(config, error_type)
    assert config == before
    assert adjusted is not config


# --- manual_retry_refusal ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (JobStatus.COMPLETED, "Job is not in a failed state"),
        (JobStatus.RUNNING, "Job is currently in progress"),
        (JobStatus.PENDING, "Job is already queued"),
        (JobStatus.CANCELLED, "Cancelled jobs are intentionally stopped"),
    ],
)
@pytest.mark.parametrize("retry_count", [0, 3])
def test_manual_retry_refused_when_not_failed(
    status: JobStatus, reason: str, retry_count: int
) -> None:
    job = make_job(status=status, retry_count=retry_count, max_retries=3)
    assert manual_retry_refusal(job) == RetryRefused(limit_reached=False, reason=reason)


@pytest.mark.parametrize(("retry_count", "max_retries"), [(3, 3), (4, 3), (0, 0), (10, 10)])
def test_manual_retry_refused_at_the_limit(retry_count: int, max_retries: int) -> None:
    job = make_job(retry_count=retry_count, max_retries=max_retries)
    assert manual_retry_refusal(job) == RetryRefused(
        limit_reached=True, reason="Job has exceeded maximum retry attempts"
    )


@pytest.mark.parametrize(("retry_count", "max_retries"), [(0, 3), (2, 3), (0, 1), (9, 10)])
@pytest.mark.parametrize("error_type", [*ErrorType, None])
def test_manual_retry_allowed_for_any_failed_job_under_the_limit(
    retry_count: int, max_retries: int, error_type: ErrorType | None
) -> None:
    # Permanent failures included: the site may have been fixed.
    job = make_job(retry_count=retry_count, max_retries=max_retries, error_type=error_type)
    assert manual_retry_refusal(job) is None


def test_manual_retry_allowed_even_when_auto_retry_is_off() -> None:
    assert manual_retry_refusal(make_job(config={"autoRetry": False})) is None


# --- manual retry and the policy's numbers ---------------------------------------------


@pytest.mark.parametrize(
    ("error_type", "reason"),
    [
        (ErrorType.TIMEOUT, "Manual retry after timeout error"),
        (ErrorType.NOT_FOUND, "Manual retry after not_found error"),
        (None, "Manual retry"),
    ],
)
def test_manual_plan_names_the_recorded_failure(error_type: ErrorType | None, reason: str) -> None:
    job = make_job(error_type=error_type, metadata={"errorType": "forbidden"})
    plan = RetryPolicy().manual(job, actor="ops", now=NOW, delay_seconds=30)
    assert isinstance(plan, RetryPlan)
    assert plan.reason == reason
    assert plan.last_retry.retried_by == "ops"
    assert plan.scheduled_at == NOW + timedelta(seconds=30)
    assert plan.config["userAgent"] == DEFAULT_USER_AGENT


def test_manual_plan_is_refused_as_the_seed_says() -> None:
    refused = RetryPolicy().manual(make_job(status=JobStatus.RUNNING), actor="api", now=NOW)
    assert refused == RetryRefused(False, "Job is currently in progress")


def test_the_policy_numbers_are_its_fields() -> None:
    policy = RetryPolicy(
        timeout_factor=2.0,
        max_timeout_ms=50_000,
        rate_limited_min_delay_ms=5_000,
        forbidden_retries=2,
        user_agents=("OnlyBot/1.0",),
    )
    assert policy.adjust_config({"timeout": 20_000}, ErrorType.TIMEOUT) == {"timeout": 40_000}
    assert policy.adjust_config({"timeout": 30_000}, ErrorType.TIMEOUT) == {"timeout": 50_000}
    limited = policy.adjust_config({"delay": 0}, ErrorType.RATE_LIMITED)
    assert limited["delay"] == 5_000
    rotated = policy.adjust_config({"userAgent": DEFAULT_USER_AGENT}, ErrorType.FORBIDDEN)
    assert rotated["userAgent"] == "OnlyBot/1.0"
    forbidden = Failure(ErrorType.FORBIDDEN, "403", 403)
    job = replace(make_job(user_agent_rotations=1), failure=forbidden)
    assert isinstance(policy.decide(job, now=NOW, rng=LOW), RetryPlan)
    assert isinstance(RetryPolicy().decide(job, now=NOW, rng=LOW), GiveUp)


def test_the_default_numbers_are_the_contracts() -> None:
    policy = RetryPolicy()
    assert (policy.timeout_factor, policy.max_timeout_ms) == (1.5, 120_000)
    assert (policy.rate_limited_min_delay_ms, policy.forbidden_retries) == (2_000, 1)
    assert policy.user_agents == ALTERNATE_USER_AGENTS


@pytest.mark.parametrize(
    "changes", [{"timeout_factor": 0.5}, {"user_agents": ()}, {"jitter": 1.0}, {"delays": ()}]
)
def test_a_policy_with_impossible_numbers_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**changes)
