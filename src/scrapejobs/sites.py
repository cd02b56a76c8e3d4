"""Sites: the unit of politeness that every job and worker of the fleet shares.

Pure domain code. A site is the host (with its port) a job crawls:
``config.startUrl``'s if the job has one, else its ``domain``'s; default
ports are dropped, so ``example.com``, ``https://example.com:443`` and a
startUrl ``https://example.com/shop`` are one site, ``127.0.0.1:8081``
another (CONTRACT section 9).

A site holds its jobs back while it is **paused** (by an operator),
**cooling down** (it answered 429 or 503 with a ``Retry-After``, to any
request of any job) or while its **circuit is open** (its jobs' attempts kept
failing for reasons that say the site is down: :class:`Breaker`). Held-back
jobs are not claimed; waiting never spends a retry (``transitions.py``).
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from scrapejobs.failures import MAX_RETRY_AFTER, ErrorType, Failure

__all__ = [
    "CIRCUIT_ERRORS",
    "COOLDOWN_ERRORS",
    "DOWN_ERRORS",
    "Breaker",
    "Site",
    "SiteEffect",
    "SiteStatus",
    "cooldown_of",
    "same_site_domains",
    "site_effect",
    "site_of",
]

DEFAULT_PORTS = {"http": "80", "https": "443"}
COOLDOWN_ERRORS = frozenset({ErrorType.RATE_LIMITED, ErrorType.SERVICE_UNAVAILABLE})
"""Failures whose ``Retry-After`` cools the whole site down."""
DOWN_ERRORS = frozenset(
    {
        ErrorType.TIMEOUT,
        ErrorType.CONNECTION_REFUSED,
        ErrorType.CONNECTION_RESET,
        ErrorType.DNS_RESOLUTION,
        ErrorType.SERVICE_UNAVAILABLE,
        ErrorType.SERVER_ERROR,
    }
)
"""Failures that say the site is down."""
CIRCUIT_ERRORS = DOWN_ERRORS | {ErrorType.BLOCKED}
"""Failures that count towards opening a site's circuit: it is down, or blocks us."""
NEUTRAL_ERRORS = frozenset({ErrorType.WORKER_LOST, ErrorType.INVALID_URL, ErrorType.UNKNOWN})
"""Failures that say nothing about the site (any other one says it answered)."""
CLOSED_CIRCUIT: dict[str, Any] = {
    "failure_streak": 0,
    "breaker_until": None,
    "breaker_trips": 0,
    "breaker_reason": None,
    "probe_job_id": None,
    "probe_until": None,
}
"""A closed circuit's fields (``Site.closed``; the store's conditional update too)."""


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


def same_site_domains(domain: str) -> tuple[str, ...]:
    """Every normalized domain that names the same site as ``domain``, sorted.

    A domain filter matches these, so that a job submitted as an origin is
    found by its host and port, and the other way round (issue 17):

    >>> same_site_domains("127.0.0.1:59999")
    ('127.0.0.1:59999', 'http://127.0.0.1:59999', 'https://127.0.0.1:59999')
    >>> same_site_domains("https://example.com")
    ('example.com', 'example.com:443', 'http://example.com', 'http://example.com:80', \
'https://example.com', 'https://example.com:443')
    """
    site = site_of(domain)
    host, port = site, None
    if not site.endswith("]") and ":" in site:  # host:port ([v6]:port too)
        host, _, port = site.rpartition(":")
    ports = {port, *DEFAULT_PORTS.values()}
    candidates = {
        prefix + host + (f":{p}" if p else "")
        for prefix in ("", "http://", "https://")
        for p in ports
    }
    return tuple(sorted(c for c in candidates if site_of(c) == site))


class SiteStatus(enum.StrEnum):
    """What a site lets its jobs do now."""

    OPEN = "open"
    """Jobs run (within the site's limits)."""
    COOLING_DOWN = "cooling_down"
    """The site asked everyone to wait (``Retry-After``) until ``cooldown_until``."""
    CIRCUIT_OPEN = "circuit_open"
    """Its jobs kept failing: they wait until ``breaker_until``, then one probe runs."""
    PAUSED = "paused"
    """An operator stopped it; its jobs wait until it is resumed."""


@dataclass(frozen=True, slots=True)
class Breaker:
    """When a site's circuit opens, and for how long.

    After ``threshold`` attempts in a row (of any of the site's jobs) fail
    with one of :data:`CIRCUIT_ERRORS`, the circuit opens for ``first_open``
    seconds: no job of the site is claimed. Then it is *half-open*: one job
    is claimed as the probe. The probe's site answering (a success, or any
    failure that is not a ``CIRCUIT_ERRORS`` one) closes the circuit and lets
    the rest go; another site-down failure opens it again, each time
    ``factor`` times longer, up to ``max_open``::

        open_seconds(trips) = min(first_open * factor ** (trips - 1), max_open)

    With the defaults, a site that stays down opens for 30 s, 60 s, 120 s, ...
    1 h, 1 h: a day of it costs 5 attempts and about 30 probes, whatever the
    number of jobs waiting. ``threshold`` 0: the circuit never opens.
    """

    threshold: int = 5
    first_open: float = 30.0
    factor: float = 2.0
    max_open: float = 3600.0

    def open_seconds(self, trips: int) -> float:
        """
        >>> [Breaker().open_seconds(n) for n in (1, 2, 3, 8, 9)]
        [30.0, 60.0, 120.0, 3600.0, 3600.0]
        """
        return min(self.first_open * self.factor ** (trips - 1), self.max_open)


@dataclass(frozen=True, slots=True)
class Site:
    """One site's shared state, as stored."""

    site: str
    updated_at: datetime
    paused: bool = False
    cooldown_until: datetime | None = None
    cooldown_reason: str | None = None
    failure_streak: int = 0
    """Attempts in a row that failed with a ``CIRCUIT_ERRORS`` failure."""
    breaker_until: datetime | None = None
    """Set while the circuit is open: jobs wait until then, then one probe runs."""
    breaker_trips: int = 0
    """How many times in a row the circuit opened (its next opening lasts longer)."""
    breaker_reason: str | None = None
    probe_job_id: str | None = None
    """The job claimed as the probe of a half-open circuit."""
    probe_until: datetime | None = None
    """The probe's claim holds the half-open site until then (its first lease)."""
    max_requests_per_second: float | None = None
    """The operator's cap for the whole fleet (None: none); see ``limits.py``."""
    max_concurrent_requests: int | None = None
    """The operator's cap on requests in flight (None: ``DEFAULT_SITE_CONCURRENCY``)."""
    crawl_delay: float | None = None
    """The site's robots.txt ``Crawl-delay``, as a crawl last read it."""
    adaptive_rate: float | None = None
    """The fleet's rate while lowered by 429s and 503s (None: not lowered)."""
    rate_before: float | None = None
    """The fleet's rate when it was first lowered: recovery stops there."""
    rate_changed_at: datetime | None = None
    slowed_at: datetime | None = None
    """When a 429 or 503 last lowered the fleet's rate."""

    def status(self, now: datetime) -> SiteStatus:
        if self.paused:
            return SiteStatus.PAUSED
        if self.breaker_until is not None:
            return SiteStatus.CIRCUIT_OPEN
        if self.cooling(now):
            return SiteStatus.COOLING_DOWN
        return SiteStatus.OPEN

    def cooling(self, now: datetime) -> bool:
        """Whether a cooldown runs at ``now`` (paused or not, circuit open or not)."""
        return self.cooldown_until is not None and self.cooldown_until > now

    def half_open(self, now: datetime) -> bool:
        """The circuit's wait is over: one probe job may run."""
        return self.breaker_until is not None and self.breaker_until <= now

    def hold(self, now: datetime) -> tuple[datetime | None, str] | None:
        """Until when (None: until resumed) and why the site holds all its jobs back.

        A half-open circuit holds back no running crawl (its probe is one).
        """
        if self.paused:
            return None, "paused by an operator"
        holds = []
        if self.cooling(now):
            assert self.cooldown_until is not None
            holds.append((self.cooldown_until, f"cooling down: {self.cooldown_reason}"))
        if self.breaker_until is not None and self.breaker_until > now:
            holds.append((self.breaker_until, f"held back, circuit open: {self.breaker_reason}"))
        return max(holds, key=lambda hold: hold[0]) if holds else None

    def wait_for(
        self, failure: Failure, now: datetime, *, cooldowns: bool = True
    ) -> tuple[datetime, str] | None:
        """Until when and why a job whose attempt failed with ``failure`` waits, free.

        It does when the failure is the site's (a ``DOWN_ERRORS`` or
        ``COOLDOWN_ERRORS`` one) and the site holds its jobs back until a
        time: a cooldown (unless ``cooldowns`` is False: the job does not
        respect ``Retry-After``) or an open circuit.
        """
        if failure.error_type not in DOWN_ERRORS | COOLDOWN_ERRORS:
            return None
        site = self if cooldowns else replace(self, cooldown_until=None)
        hold = site.hold(now)
        if hold is None or hold[0] is None:
            return None
        return hold[0], hold[1]

    def admits(self, now: datetime, probe_running: bool) -> bool:
        """Whether a claim may take one of the site's jobs now.

        ``probe_running``: whether the job named ``probe_job_id`` is running.
        The probe holds a half-open site while its claim is fresh or it runs;
        one that ended without a word (a lost worker) frees it after that.
        """
        if self.hold(now) is not None:
            return False
        if self.breaker_until is None or self.probe_job_id is None:
            return True
        fresh = self.probe_until is not None and self.probe_until >= now
        return not (fresh or probe_running)

    def claimed(self, job_id: str, lease_until: datetime, now: datetime) -> Site:
        """One of its jobs was claimed: on a half-open circuit, it is the probe."""
        if not self.half_open(now):
            return self
        return replace(self, probe_job_id=job_id, probe_until=lease_until, updated_at=now)

    def cooled_down(self, until: datetime, reason: str, now: datetime) -> Site:
        """This site asked to wait until ``until``; a later cooldown already set stands."""
        if self.cooldown_until is not None and self.cooldown_until >= until:
            return self
        return replace(self, cooldown_until=until, cooldown_reason=reason, updated_at=now)

    def attempt_ended(
        self, job_id: str, failure: Failure | None, now: datetime, breaker: Breaker
    ) -> Site:
        """An attempt of ``job_id`` on this site succeeded (``failure`` None) or failed.

        A failure's ``Retry-After`` cools the site down; a ``CIRCUIT_ERRORS``
        failure counts towards its circuit (see :class:`Breaker`); any other
        outcome but a :data:`NEUTRAL_ERRORS` one closes it.
        """
        site = self
        if failure is not None and (cooldown := cooldown_of(failure, now)) is not None:
            site = site.cooled_down(*cooldown, now)
        if failure is not None and failure.error_type in NEUTRAL_ERRORS:
            return site
        if failure is None or failure.error_type not in CIRCUIT_ERRORS:
            return site.answered(now)
        streak = site.failure_streak + 1
        if site.breaker_until is None:
            trips = 1 if 0 < breaker.threshold <= streak else 0
        elif site.half_open(now) or job_id == site.probe_job_id:
            trips = site.breaker_trips + 1  # the probe failed: open again, for longer
        else:
            trips = 0  # an attempt that began before the circuit opened
        site = replace(site, failure_streak=streak, updated_at=now)
        if not trips:
            return site
        reason = f"{streak} attempts in a row failed, the last with {failure.error_type.value}"
        return site._opened(trips, reason, now, breaker)

    def tripped(self, reason: str, now: datetime, breaker: Breaker) -> Site:
        """Open the circuit now for ``reason`` (most responses a crawl got were
        blocks), unless it is open already."""
        if self.breaker_until is not None and not self.half_open(now):
            return self
        return self._opened(self.breaker_trips + 1, reason, now, breaker)

    def _opened(self, trips: int, reason: str, now: datetime, breaker: Breaker) -> Site:
        return replace(
            self,
            breaker_until=now + timedelta(seconds=breaker.open_seconds(trips)),
            breaker_trips=trips,
            breaker_reason=reason,
            probe_job_id=None,
            probe_until=None,
            updated_at=now,
        )

    def answered(self, now: datetime) -> Site:
        """The site answered an attempt: its circuit closes, if it was not."""
        if not self.failure_streak and self.breaker_until is None:
            return self
        return self.closed(now)

    def closed(self, now: datetime) -> Site:
        """Its circuit closes, and its count of failures starts again."""
        return replace(self, **CLOSED_CIRCUIT, updated_at=now)

    def resumed(self, now: datetime) -> Site:
        """Open again now: no cooldown, no open circuit, not paused."""
        return replace(self.closed(now), paused=False, cooldown_until=None, cooldown_reason=None)


def cooldown_of(failure: Failure, now: datetime) -> tuple[datetime, str] | None:
    """When a failure cools its site down, until when and why; None when it does not.

    A 429 or 503 that came with ``Retry-After`` does (a blocked one too;
    capped at a day, like the failure itself).

    >>> from datetime import UTC
    >>> now = datetime(2024, 1, 1, tzinfo=UTC)
    >>> until, reason = cooldown_of(Failure(ErrorType.RATE_LIMITED, "429", 429, 120.0), now)
    >>> until.isoformat(), reason
    ('2024-01-01T00:02:00+00:00', 'HTTP 429 with Retry-After: 120 s')
    """
    asks = failure.error_type in COOLDOWN_ERRORS or failure.http_status in (429, 503)
    if not asks or not failure.retry_after:
        return None
    seconds = min(failure.retry_after, MAX_RETRY_AFTER)
    status = f"HTTP {failure.http_status}" if failure.http_status else failure.error_type.value
    return now + timedelta(seconds=seconds), f"{status} with Retry-After: {seconds:g} s"


class SiteEffect(enum.Enum):
    """What a failed attempt tells its site's shared state."""

    CHANGES = "changes"
    """It cools the site down, or counts towards its circuit: read, change, write."""
    ANSWERED = "answered"
    """The site answered: its circuit closes, if it was not (one conditional update)."""
    NOTHING = "nothing"
    """It says nothing about the site (a lost worker, a refused URL)."""


def site_effect(failure: Failure, now: datetime) -> SiteEffect:
    """What ``failure`` does to its site (``Site.attempt_ended`` in full)."""
    if failure.error_type in CIRCUIT_ERRORS or cooldown_of(failure, now) is not None:
        return SiteEffect.CHANGES
    if failure.error_type in NEUTRAL_ERRORS:
        return SiteEffect.NOTHING
    return SiteEffect.ANSWERED
