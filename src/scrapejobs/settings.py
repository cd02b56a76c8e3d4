"""Settings shared by ``serve`` and ``worker``; checked when they are made."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

from scrapejobs.retry import RetryPolicy
from scrapejobs.sites import Breaker

__all__ = ["DEFAULT_DATABASE_URL", "Settings", "parse_retry_delays"]

DEFAULT_DATABASE_URL = "sqlite:///./scrapejobs.db"


def parse_retry_delays(text: str) -> tuple[float, ...]:
    """``"60,300,900"`` -> ``(60.0, 300.0, 900.0)``; ValueError when malformed."""
    try:
        delays = tuple(float(part) for part in text.split(","))
    except ValueError as exc:
        raise ValueError(f"retry delays must be comma-separated seconds, got {text!r}") from exc
    if any(d < 0 or not math.isfinite(d) for d in delays):
        raise ValueError("retry delays must be finite numbers >= 0")
    return delays


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    retry_delays: tuple[float, ...] = (60.0, 300.0, 900.0)
    lease_seconds: int = 60
    allow_private_networks: bool = False
    workers: int = 0
    """The most jobs the embedded (or standalone) workers run at once."""
    min_workers: int = 2
    """Where their autoscaled pool starts, and the least it shrinks to."""
    shutdown_grace: float = 10.0
    circuit_failures: int = 5
    circuit_open_seconds: float = 30.0
    site_sync_interval: float = 1.0
    retention: timedelta | None = None
    """Delete ended jobs unchanged for this long (``scrapejobs.retention``); None keeps all."""
    prune_interval: float = 600.0
    """Seconds between two runs of the pruner (when ``retention`` is set)."""
    max_body_bytes: int = 1024 * 1024
    """The largest request body the API reads; a larger one is refused with 413."""
    client_timeout: float = 10.0
    """Seconds a client may take over a request's headers, or go without sending body bytes."""
    policy: RetryPolicy = field(init=False)

    def __post_init__(self) -> None:
        _backend(self.database_url)  # fails fast on an unsupported URL
        if self.lease_seconds < 1:
            raise ValueError("lease seconds must be at least 1")
        if self.workers < 0 or self.min_workers < 1:
            raise ValueError("workers must be 0 or more, the minimum at least 1")
        if not 0 <= self.shutdown_grace <= 3600:
            raise ValueError("shutdown grace must be 0 to 3600 seconds")
        if self.circuit_failures < 0 or not 0 < self.circuit_open_seconds <= 86_400:
            raise ValueError("circuit failures must be 0 or more, its open seconds 0 to a day")
        if not 0.05 <= self.site_sync_interval <= 60:
            raise ValueError("site sync interval must be 0.05 to 60 seconds")
        if self.retention is not None and self.retention <= timedelta(0):
            raise ValueError("retention must be a positive duration")
        if not 0.01 <= self.prune_interval <= 86_400:
            raise ValueError("prune interval must be 0.01 s to a day")
        if self.max_body_bytes < 0 or not 0 < self.client_timeout <= 3600:
            raise ValueError("max body bytes must be 0 or more, client timeout 0 to 3600 seconds")
        object.__setattr__(self, "policy", RetryPolicy(delays=self.retry_delays))

    @property
    def breaker(self) -> Breaker:
        return Breaker(threshold=self.circuit_failures, first_open=self.circuit_open_seconds)

    @property
    def is_sqlite(self) -> bool:
        return _backend(self.database_url) == "sqlite"

    @property
    def reap_interval(self) -> float:
        """How often the lease reaper looks: a quarter lease, 0.25 s to 15 s."""
        return min(15.0, max(0.25, self.lease_seconds / 4))


def _backend(url: str) -> str:
    # Imported here: the CLI's client commands import this module for its
    # defaults and should not pay for loading SQLAlchemy (about 0.5 s).
    from scrapejobs.storage.database import async_url

    return async_url(url).get_backend_name()
