"""Failures of requests, classified with :mod:`scrapejobs.failures` at the edge.

The only place that knows aiohttp's exception tree. What each exception
means, as data (first match wins)::

    BlockedAddress (anywhere in the chain)       -> invalid_url
    InvalidURL, NonHttpUrlClientError            -> invalid_url
    ClientConnectorDNSError, socket.gaierror     -> dns_resolution
    TimeoutError (ServerTimeoutError, ...)       -> timeout
    ClientConnectorError  ECONNRESET             -> connection_reset
                          certificate / TLS      -> unknown
                          anything else          -> connection_refused
    ServerDisconnectedError, ConnectionResetError,
    ClientOSError ECONNRESET/EPIPE,
    ClientPayloadError (body cut short)          -> connection_reset
    anything else                                -> unknown

An HTTP error status is classified by :func:`scrapejobs.failures.classify_status`;
``Retry-After`` (delta-seconds or an HTTP date) becomes ``Failure.retry_after``.
"""

from __future__ import annotations

import errno
import re
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from scrapejobs.crawler.guard import BlockedAddress
from scrapejobs.failures import ErrorType, Failure, classify_status

__all__ = [
    "FetchFailed",
    "failure_from_exception",
    "failure_from_status",
    "page_error",
    "parse_retry_after",
]

_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})
_DELTA_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")

# Error types whose name says all a page record needs to say.
_NAMED_ERRORS = frozenset(
    {
        ErrorType.TIMEOUT,
        ErrorType.CONNECTION_REFUSED,
        ErrorType.CONNECTION_RESET,
        ErrorType.DNS_RESOLUTION,
        ErrorType.ROBOTS_DISALLOWED,
    }
)


class FetchFailed(Exception):
    """A request failed without an HTTP response; ``failure`` says how."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _blocked_in(exc: BaseException) -> BlockedAddress | None:
    seen: BaseException | None = exc
    for _ in range(8):  # a short walk down the chain aiohttp builds
        if seen is None:
            return None
        if isinstance(seen, BlockedAddress):
            return seen
        inner = getattr(seen, "os_error", None)
        seen = inner if isinstance(inner, BaseException) else seen.__cause__
    return None


def _connector_type(exc: aiohttp.ClientConnectorError) -> ErrorType:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return ErrorType.UNKNOWN
    if isinstance(exc.os_error, ConnectionResetError) or exc.os_error.errno in _RESET_ERRNOS:
        return ErrorType.CONNECTION_RESET
    return ErrorType.CONNECTION_REFUSED  # refused, unreachable: no connection was made


def _is_reset(exc: BaseException) -> bool:
    if isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError):
        return True
    if isinstance(exc, aiohttp.ClientPayloadError):
        return True
    return isinstance(exc, OSError) and exc.errno in _RESET_ERRNOS


def _error_type(exc: BaseException) -> ErrorType:
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return ErrorType.INVALID_URL
    if isinstance(exc, aiohttp.ClientConnectorDNSError | socket.gaierror):
        return ErrorType.DNS_RESOLUTION
    if isinstance(exc, TimeoutError):
        return ErrorType.TIMEOUT
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _connector_type(exc)
    if _is_reset(exc):
        return ErrorType.CONNECTION_RESET
    return ErrorType.UNKNOWN


def _detail(exc: BaseException) -> str:
    """What went wrong, in the operating system's words where it has them.

    aiohttp's own text repeats the host and adds its TLS setting (``Cannot
    connect to host h:80 ssl:default [Connect call failed ...]``); the
    message already names the URL, so only the reason is kept.
    """
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        return os_error.strerror or str(os_error) or type(os_error).__name__
    return str(exc) or type(exc).__name__


def failure_from_exception(exc: BaseException, url: str, timeout: float) -> Failure:
    """The classified failure of a request to ``url`` that raised ``exc``."""
    blocked = _blocked_in(exc)
    if blocked is not None:
        return Failure(ErrorType.INVALID_URL, f"{blocked} for {url}")
    error_type = _error_type(exc)
    detail = _detail(exc)
    messages = {
        ErrorType.TIMEOUT: f"timeout after {timeout:g} s fetching {url}",
        ErrorType.CONNECTION_REFUSED: f"connection refused by {url}: {detail}",
        ErrorType.CONNECTION_RESET: f"connection reset by {url}: {detail}",
        ErrorType.DNS_RESOLUTION: f"DNS resolution failed for {url}: {detail}",
        ErrorType.INVALID_URL: f"invalid URL {url}: {detail}",
    }
    message = messages.get(error_type, f"{type(exc).__name__} fetching {url}: {detail}")
    return Failure(error_type, message)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header; None if absent, past or garbage.

    >>> parse_retry_after("7", datetime(2024, 1, 1, tzinfo=UTC))
    7.0
    >>> parse_retry_after("Mon, 01 Jan 2024 00:01:00 GMT", datetime(2024, 1, 1, tzinfo=UTC))
    60.0
    >>> parse_retry_after("soon", datetime(2024, 1, 1, tzinfo=UTC)) is None
    True
    """
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    return seconds if seconds > 0 else None


def failure_from_status(status: int, url: str, retry_after: float | None = None) -> Failure:
    """The classified failure of an HTTP error status."""
    return Failure(classify_status(status), f"HTTP {status} from {url}", status, retry_after)


def page_error(failure: Failure) -> str:
    """The short error a page record keeps: ``HTTP 404``, ``timeout``, or the message."""
    if failure.error_type is ErrorType.BLOCKED:
        return f"blocked (HTTP {failure.http_status})"
    if failure.http_status is not None:
        return f"HTTP {failure.http_status}"
    if failure.error_type in _NAMED_ERRORS:
        return failure.error_type.value
    return failure.message
