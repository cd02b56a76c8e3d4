"""Sites: the unit of politeness that every job and worker of the fleet shares.

Pure domain code. A site is the host (with its port) a job crawls:
``config.startUrl``'s if the job has one, else its ``domain``'s; default
ports are dropped, so ``example.com``, ``https://example.com:443`` and a
startUrl ``https://example.com/shop`` are one site, ``127.0.0.1:8081``
another (CONTRACT section 9).

A site holds its jobs back while it is **paused** (by an operator) or
**cooling down** (it answered 429 or 503 with a ``Retry-After``, to any
request of any job). Held-back jobs are not claimed; waiting never spends a
retry (``transitions.py``).
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from scrapejobs.failures import MAX_RETRY_AFTER, ErrorType, Failure

__all__ = [
    "COOLDOWN_ERRORS",
    "Site",
    "SiteStatus",
    "cooldown_of",
    "site_of",
]

DEFAULT_PORTS = {"http": "80", "https": "443"}
COOLDOWN_ERRORS = frozenset({ErrorType.RATE_LIMITED, ErrorType.SERVICE_UNAVAILABLE})
"""Failures whose ``Retry-After`` cools the whole site down."""


def _host_port(scheme: str, netloc: str) -> str:
    netloc = netloc.rpartition("@")[2]
    if netloc.startswith("["):  # an IPv6 literal
        host, _, rest = netloc.partition("]")
        host, port = host + "]", rest.removeprefix(":")
    else:
        host, _, port = netloc.partition(":")
    host = host.lower().rstrip(".")
    if not host.isascii():  # a startUrl may spell a host in Unicode; domains are IDNA
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    return host if not port or port == DEFAULT_PORTS.get(scheme) else f"{host}:{port}"


def site_of(domain: str, start_url: str | None = None) -> str:
    """The site a job crawls, from its (normalized) domain and startUrl.

    >>> site_of("http://127.0.0.1:8081")
    '127.0.0.1:8081'
    >>> site_of("example.com:443")
    'example.com'
    >>> site_of("example.com", "https://WWW.Example.com:443/shop?x=1")
    'www.example.com'
    """
    if start_url:
        parts = urlsplit(start_url)
        return _host_port(parts.scheme.lower(), parts.netloc)
    scheme, sep, rest = domain.partition("://")
    return _host_port(scheme if sep else "https", rest if sep else domain)


class SiteStatus(enum.StrEnum):
    """What a site lets its jobs do now."""

    OPEN = "open"
    """Jobs run (within the site's limits)."""
    COOLING_DOWN = "cooling_down"
    """The site asked everyone to wait (``Retry-After``) until ``cooldown_until``."""
    PAUSED = "paused"
    """An operator stopped it; its jobs wait until it is resumed."""


@dataclass(frozen=True, slots=True)
class Site:
    """One site's shared state, as stored."""

    site: str
    updated_at: datetime
    paused: bool = False
    cooldown_until: datetime | None = None
    cooldown_reason: str | None = None

    def status(self, now: datetime) -> SiteStatus:
        if self.paused:
            return SiteStatus.PAUSED
        if self.cooldown_until is not None and self.cooldown_until > now:
            return SiteStatus.COOLING_DOWN
        return SiteStatus.OPEN

    def holds(self, now: datetime) -> bool:
        """Whether the site keeps its jobs from being claimed now."""
        return self.status(now) is not SiteStatus.OPEN

    def cooled_down(self, until: datetime, reason: str, now: datetime) -> Site:
        """This site asked to wait until ``until``; a later cooldown already set stands."""
        if self.cooldown_until is not None and self.cooldown_until >= until:
            return self
        return replace(self, cooldown_until=until, cooldown_reason=reason, updated_at=now)

    def resumed(self, now: datetime) -> Site:
        """Open again now: no cooldown, not paused."""
        return replace(
            self, paused=False, cooldown_until=None, cooldown_reason=None, updated_at=now
        )


def cooldown_of(failure: Failure, now: datetime) -> tuple[datetime, str] | None:
    """When a failure cools its site down, until when and why; None when it does not.

    A 429 or 503 that came with ``Retry-After`` does (capped at a day, like
    the failure itself).

    >>> from datetime import UTC
    >>> now = datetime(2024, 1, 1, tzinfo=UTC)
    >>> until, reason = cooldown_of(Failure(ErrorType.RATE_LIMITED, "429", 429, 120.0), now)
    >>> until.isoformat(), reason
    ('2024-01-01T00:02:00+00:00', 'HTTP 429 with Retry-After: 120 s')
    """
    if failure.error_type not in COOLDOWN_ERRORS or not failure.retry_after:
        return None
    seconds = min(failure.retry_after, MAX_RETRY_AFTER)
    status = f"HTTP {failure.http_status}" if failure.http_status else failure.error_type.value
    return now + timedelta(seconds=seconds), f"{status} with Retry-After: {seconds:g} s"
