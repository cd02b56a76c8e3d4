"""Failure classification: what went wrong with an attempt, as data.

One classifier for the whole product (CONTRACT section 5). A failure has a
fine ``errorType`` and a coarse ``failurePattern``; the table below says, for
each error type, its pattern and whether an automatic retry can help. The
retry policy (``retry.py``) decides from that; the crawler and the API only
classify.

Three ways in, all returning a :class:`Failure`:

* :func:`classify` with an explicit ``errorType`` (a worker that knows),
* an HTTP status (``classify_status``),
* an error message (``classify_message``), a last resort for reports from
  workers that send only text.

Pure: no I/O.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, replace

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "MAX_RETRY_AFTER",
    "ErrorType",
    "Failure",
    "FailurePattern",
    "classify",
    "classify_message",
    "classify_status",
]


class FailurePattern(enum.StrEnum):
    """Coarse families of failures, used for filters, bulk retry and analytics."""

    NETWORK_CONNECTIVITY = "network_connectivity"
    RATE_LIMITING = "rate_limiting"
    SERVER_ERROR = "server_error"
    ACCESS_DENIED = "access_denied"
    CONTENT_MISSING = "content_missing"
    CONFIGURATION = "configuration"
    INFRASTRUCTURE = "infrastructure"
    UNKNOWN = "unknown"


class ErrorType(enum.StrEnum):
    """Stable reason names; each is a Prometheus label, so never rename one."""

    TIMEOUT = "timeout"
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    DNS_RESOLUTION = "dns_resolution"
    RATE_LIMITED = "rate_limited"
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVER_ERROR = "server_error"
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    INVALID_URL = "invalid_url"
    ROBOTS_DISALLOWED = "robots_disallowed"
    BLOCKED = "blocked"
    """An anti-bot challenge or a WAF's block page (``scrapejobs.blocks``)."""
    WORKER_LOST = "worker_lost"
    UNKNOWN = "unknown"

    @property
    def pattern(self) -> FailurePattern:
        return PATTERNS[self]

    @property
    def retryable(self) -> bool:
        """Whether an automatic retry can help (``forbidden``: once, see retry.py)."""
        return self not in NOT_RETRYABLE


_P = FailurePattern
PATTERNS: dict[ErrorType, FailurePattern] = {
    ErrorType.TIMEOUT: _P.NETWORK_CONNECTIVITY,
    ErrorType.CONNECTION_REFUSED: _P.NETWORK_CONNECTIVITY,
    ErrorType.CONNECTION_RESET: _P.NETWORK_CONNECTIVITY,
    ErrorType.DNS_RESOLUTION: _P.NETWORK_CONNECTIVITY,
    ErrorType.RATE_LIMITED: _P.RATE_LIMITING,
    ErrorType.SERVICE_UNAVAILABLE: _P.SERVER_ERROR,
    ErrorType.SERVER_ERROR: _P.SERVER_ERROR,
    ErrorType.FORBIDDEN: _P.ACCESS_DENIED,
    ErrorType.UNAUTHORIZED: _P.ACCESS_DENIED,
    ErrorType.NOT_FOUND: _P.CONTENT_MISSING,
    ErrorType.INVALID_URL: _P.CONFIGURATION,
    ErrorType.ROBOTS_DISALLOWED: _P.CONFIGURATION,
    ErrorType.BLOCKED: _P.ACCESS_DENIED,
    ErrorType.WORKER_LOST: _P.INFRASTRUCTURE,
    ErrorType.UNKNOWN: _P.UNKNOWN,
}

NOT_RETRYABLE = frozenset(
    {
        ErrorType.UNAUTHORIZED,
        ErrorType.NOT_FOUND,
        ErrorType.INVALID_URL,
        ErrorType.ROBOTS_DISALLOWED,
        ErrorType.BLOCKED,  # retrying a challenge at once does not pass it; it feeds the breaker
    }
)

# HTTP statuses with a class of their own; any other 5xx is a server_error and
# any other 4xx is unknown (the site answered, but nothing says a retry helps
# or hurts, so the policy's default applies).
STATUS_TYPES: dict[int, ErrorType] = {
    401: ErrorType.UNAUTHORIZED,
    403: ErrorType.FORBIDDEN,
    404: ErrorType.NOT_FOUND,
    408: ErrorType.TIMEOUT,
    410: ErrorType.NOT_FOUND,
    429: ErrorType.RATE_LIMITED,
    503: ErrorType.SERVICE_UNAVAILABLE,
}

# Message heuristics, first match wins; order matters (a "503 Service
# Unavailable" must not be read as a generic server error).
MESSAGE_RULES: tuple[tuple[re.Pattern[str], ErrorType], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), error_type)
    for pattern, error_type in (
        (r"captcha|anti-?bot|bot (?:protection|detection|check)|challenge page", ErrorType.BLOCKED),
        (r"\b429\b|too many requests|rate.?limit", ErrorType.RATE_LIMITED),
        (r"\b503\b|service unavailable", ErrorType.SERVICE_UNAVAILABLE),
        (r"\b401\b|unauthori[sz]ed", ErrorType.UNAUTHORIZED),
        (r"\b403\b|forbidden", ErrorType.FORBIDDEN),
        (r"\b40[4]\b|\b410\b|not found|\bgone\b", ErrorType.NOT_FOUND),
        (r"robots\.txt|robots_disallowed|disallowed by robots", ErrorType.ROBOTS_DISALLOWED),
        (r"time[d ]?\s?out|timeout|etimedout", ErrorType.TIMEOUT),
        (r"connection refused|econnrefused", ErrorType.CONNECTION_REFUSED),
        (
            r"connection reset|econnreset|broken pipe|server disconnected",
            ErrorType.CONNECTION_RESET,
        ),
        (
            r"enotfound|getaddrinfo|name or service not known|name resolution|\bdns\b"
            r"|nodename nor servname",
            ErrorType.DNS_RESOLUTION,
        ),
        (r"invalid url|malformed url|unsupported (url|scheme)", ErrorType.INVALID_URL),
        (r"\b5\d\d\b|internal server error|bad gateway", ErrorType.SERVER_ERROR),
        (r"lease expired|worker lost", ErrorType.WORKER_LOST),
    )
)


MAX_MESSAGE_LENGTH = 10_000
"""Characters of a failure's message that are kept (a server's error page can be long)."""
MAX_RETRY_AFTER = 86_400.0
"""The longest ``Retry-After`` honoured, in seconds: a site that asks for more gets a day."""


@dataclass(frozen=True, slots=True)
class Failure:
    """One classified failure of one attempt."""

    error_type: ErrorType
    message: str
    http_status: int | None = None
    retry_after: float | None = None
    """Seconds the server asked us to wait (``Retry-After``), if it did."""

    @property
    def pattern(self) -> FailurePattern:
        return self.error_type.pattern

    def recorded(self) -> Failure:
        """This failure as a job keeps it: a message that any store can hold.

        A message may carry what a server sent: NUL characters and lone
        surrogates are dropped, the length is capped, and an empty message
        becomes the error type's name. ``retry_after`` is kept within 0 to
        ``MAX_RETRY_AFTER``.

        >>> Failure(ErrorType.UNKNOWN, "bad\\x00 byte").recorded().message
        'bad byte'
        """
        text = self.message.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")
        retry_after = self.retry_after
        if retry_after is not None:
            bounded = min(max(retry_after, 0.0), MAX_RETRY_AFTER)
            retry_after = None if math.isnan(retry_after) else bounded
        return replace(
            self,
            message=text[:MAX_MESSAGE_LENGTH] or self.error_type.value,
            retry_after=retry_after,
        )


def classify_status(http_status: int) -> ErrorType:
    """The error type of an HTTP error status."""
    if http_status in STATUS_TYPES:
        return STATUS_TYPES[http_status]
    if 500 <= http_status <= 599:
        return ErrorType.SERVER_ERROR
    return ErrorType.UNKNOWN


def classify_message(message: str) -> ErrorType:
    """Best guess from free text, for reports that carry nothing else."""
    for pattern, error_type in MESSAGE_RULES:
        if pattern.search(message):
            return error_type
    return ErrorType.UNKNOWN


def classify(
    message: str,
    *,
    error_type: ErrorType | None = None,
    http_status: int | None = None,
    retry_after: float | None = None,
) -> Failure:
    """Classify a failure from the most precise evidence given.

    An explicit ``error_type`` wins, then the HTTP status, then the message.

    >>> classify("Request timeout").error_type.value
    'timeout'
    >>> classify("boom", http_status=429).pattern.value
    'rate_limiting'
    """
    if error_type is None:
        error_type = classify_status(http_status) if http_status else classify_message(message)
    return Failure(error_type, message, http_status, retry_after)
