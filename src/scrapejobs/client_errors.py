"""The exceptions of ``scrapejobs.Client`` (``scrapejobs.client`` re-exports them)::

    ClientError                          message, status (None without an answer), details
    ├── ServerUnavailableError           no answer: connection refused, unknown host, timeout
    ├── JobNotFoundError                 404 Job not found
    ├── RequestRejectedError             any other 4xx: bad input, a refused transition, a conflict
    │   ├── RetryNotAllowedError         400 Job cannot be retried (details: currentStatus, reason)
    │   │   └── RetryLimitExceededError  400 Job has exceeded maximum retry attempts
    │   └── LeaseLostError               409 Lease is no longer held: stop working on that job
    └── ServerError                      a 5xx, or an answer that is not a scrapejobs envelope

``message`` is the server's ``error`` word for word, ``details`` its ``details``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ClientError",
    "JobNotFoundError",
    "LeaseLostError",
    "RequestRejectedError",
    "RetryLimitExceededError",
    "RetryNotAllowedError",
    "ServerError",
    "ServerUnavailableError",
    "error_for",
]


class ClientError(Exception):
    """Base class: the request did not do what was asked."""

    def __init__(self, message: str, status: int | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details


class ServerUnavailableError(ClientError):
    """No answer from the server (refused, unknown host, timed out, cut off)."""


class JobNotFoundError(ClientError):
    """404: no job with that id (or the id is not a UUID)."""


class RequestRejectedError(ClientError):
    """Any other 4xx: the server refused the request and changed nothing."""


class RetryNotAllowedError(RequestRejectedError):
    """400 ``Job cannot be retried``: the job is not failed (``details.reason`` says why)."""


class RetryLimitExceededError(RetryNotAllowedError):
    """400 ``Job has exceeded maximum retry attempts`` (details: currentRetries, maxRetries...)."""


class LeaseLostError(RequestRejectedError):
    """409 ``Lease is no longer held``: the job was cancelled, or reaped and claimed
    again; a worker stops working on it and does not report it."""


class ServerError(ClientError):
    """A 5xx, or an answer that is not the scrapejobs envelope."""


_REFUSALS: Mapping[str, type[ClientError]] = {
    "Job cannot be retried": RetryNotAllowedError,
    "Job has exceeded maximum retry attempts": RetryLimitExceededError,
    "Lease is no longer held": LeaseLostError,
}


def error_for(status: int, error: str, details: Any = None) -> ClientError:
    """The exception for a ``{"success": false}`` answer."""
    if status == 404 and error.startswith("Job not found"):
        return JobNotFoundError(error, status, details)
    if 400 <= status < 500:
        return _REFUSALS.get(error, RequestRejectedError)(error, status, details)
    return ServerError(error, status, details)
