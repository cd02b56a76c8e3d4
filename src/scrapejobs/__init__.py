"""scrapejobs: run scrape jobs that fail and recover well.

The package's public Python API is the HTTP client of a running server
(:class:`Client`) and its exceptions; ``docs/cli.md`` describes them. To
embed the job store and retry policy in your own async service, use
:func:`scrapejobs.service.open_store` and :class:`scrapejobs.manager.JobManager`
(README, "Python API").
"""

from scrapejobs.client import (
    Client,
    ClientError,
    JobList,
    JobNotFoundError,
    LeaseLostError,
    RequestRejectedError,
    RetryLimitExceededError,
    RetryNotAllowedError,
    ServerError,
    ServerUnavailableError,
)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "ClientError",
    "JobList",
    "JobNotFoundError",
    "LeaseLostError",
    "RequestRejectedError",
    "RetryLimitExceededError",
    "RetryNotAllowedError",
    "ServerError",
    "ServerUnavailableError",
    "__version__",
]
