"""The exceptions scrapejobs raises, one tree for the whole library::

    ScrapeJobsError
    ├── JobNotFound             no job with that id
    ├── SiteNotFound            no site of that name
    ├── KeyNotFound             no API key of that name
    ├── Unauthenticated         no API key, or not a valid one (a 401)
    ├── Forbidden               the key's role may not do this (a 403)
    ├── InvalidRequest          the request breaks a rule of the domain (a 400)
    │   └── InvalidField        ... by a value of one of the job's fields
    ├── JobConflict             the job is not in the state the step needs (a 409)
    │   ├── RetryNotAllowed     the seed's "cannot be retried" / "exceeded maximum" (a 400)
    │   └── LeaseLost           a worker's report or heartbeat for a lease it no longer holds
    └── StorageUnavailable      the database failed; nothing was written

Library exceptions (SQLAlchemy, drivers) are translated at the storage
boundary and chained with ``from``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Forbidden",
    "InvalidField",
    "InvalidRequest",
    "JobConflict",
    "JobNotFound",
    "KeyNotFound",
    "LeaseLost",
    "RetryNotAllowed",
    "ScrapeJobsError",
    "SiteNotFound",
    "StorageUnavailable",
    "Unauthenticated",
]


class ScrapeJobsError(Exception):
    """Base class; ``message`` is what users see, ``details`` what they may act on."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class JobNotFound(ScrapeJobsError):
    def __init__(self, message: str = "Job not found", details: Any = None) -> None:
        super().__init__(message, details)


class SiteNotFound(ScrapeJobsError):
    def __init__(self, message: str = "Site not found", details: Any = None) -> None:
        super().__init__(message, details)


class KeyNotFound(ScrapeJobsError):
    def __init__(self, message: str = "API key not found", details: Any = None) -> None:
        super().__init__(message, details)


class Unauthenticated(ScrapeJobsError):
    pass


class Forbidden(ScrapeJobsError):
    pass


class InvalidRequest(ScrapeJobsError):
    pass


class InvalidField(InvalidRequest):
    """A value the domain refuses for one field of a job; ``problem`` says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"Invalid {field}: {problem}", {"field": field, "problem": problem})
        self.field = field
        self.problem = problem


class JobConflict(ScrapeJobsError):
    pass


class RetryNotAllowed(JobConflict):
    pass


class LeaseLost(JobConflict):
    pass


class StorageUnavailable(ScrapeJobsError):
    pass
