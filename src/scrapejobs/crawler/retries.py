"""In-crawl retries of transient failures: which, how often, how long to wait.

A page (the start URL included) that fails with a transient error is
retried up to ``len(delays)`` more times within the crawl. Wait before retry
``k`` (0-based)::

    wait = delays[k] * (1 + jitter)              jitter uniform in [0, 0.25)
    wait = max(wait, Retry-After)                 when respectRetryAfter
    wait = min(wait, cap)                         cap = 30 s by default

With the defaults (0.5, 1.0) a page is tried at about t = 0, 0.5-0.6 s and
1.5-1.9 s. For the start URL a ``Retry-After`` beyond the cap ends the
attempt at once instead: the job-level retry policy waits that long, not a
worker.
"""

from __future__ import annotations

from collections.abc import Sequence

from scrapejobs.failures import ErrorType, Failure

__all__ = ["DEFAULT_DELAYS", "MAX_WAIT", "TRANSIENT", "retry_wait"]

DEFAULT_DELAYS: tuple[float, ...] = (0.5, 1.0)
MAX_WAIT = 30.0
TRANSIENT = frozenset(
    {
        ErrorType.TIMEOUT,
        ErrorType.CONNECTION_REFUSED,
        ErrorType.CONNECTION_RESET,
        ErrorType.RATE_LIMITED,
        ErrorType.SERVICE_UNAVAILABLE,
        ErrorType.SERVER_ERROR,
    }
)


def retry_wait(
    failure: Failure,
    retry: int,
    *,
    delays: Sequence[float],
    jitter: float,
    respect_retry_after: bool,
    cap: float = MAX_WAIT,
    give_up_beyond_cap: bool = False,
) -> float | None:
    """Seconds to wait before retry number ``retry`` (0-based), or None to give up.

    >>> f = Failure(ErrorType.RATE_LIMITED, "HTTP 429", 429, retry_after=7.0)
    >>> retry_wait(f, 0, delays=(0.5, 1.0), jitter=0.1, respect_retry_after=True)
    7.0
    >>> retry_wait(f, 2, delays=(0.5, 1.0), jitter=0.1, respect_retry_after=True) is None
    True
    """
    if failure.error_type not in TRANSIENT or retry >= len(delays):
        return None
    wait = delays[retry] * (1 + jitter)
    if respect_retry_after and failure.retry_after is not None:
        if failure.retry_after > cap and give_up_beyond_cap:
            return None
        wait = max(wait, failure.retry_after)
    return min(wait, cap)
