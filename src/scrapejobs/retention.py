"""Retention: which ended jobs are old enough to delete, with their pages and events.

The default keeps everything. ``scrapejobs prune --older-than 30d`` (``POST
/api/scrape-jobs/prune``) deletes once; ``serve --retention 30d`` (and
``worker``) keeps deleting, one process at a time. A job is old enough when
it ended (completed, failed or cancelled) and nothing changed it (its
``updated_at``) for ``older_than``; the running counts lose it in the same
transaction, so they stay exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from scrapejobs.errors import InvalidRequest
from scrapejobs.jobs import JobStatus

__all__ = ["ENDED", "PRUNE_BATCH", "Retention", "parse_duration"]

ENDED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
"""The statuses a job ends in; only those are ever pruned."""
PRUNE_BATCH = 500
"""Jobs deleted per transaction: short transactions, never one that holds every row."""
MAX_AGE = timedelta(weeks=10_000)
"""Older than this, a cutoff would fall before year 1 (a 400, not an overflow)."""
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> timedelta | None:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w`` as a timedelta; None if it is not one.

    >>> parse_duration("30d")
    datetime.timedelta(days=30)
    >>> parse_duration("soon") is None
    True
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return timedelta(seconds=float(match[1]) * UNITS[match[2]])
    except OverflowError:  # more days than a timedelta holds
        return None


@dataclass(frozen=True, slots=True)
class Retention:
    """Delete the jobs in ``statuses`` that nothing changed for ``older_than``."""

    older_than: timedelta
    statuses: tuple[JobStatus, ...] = ENDED

    @classmethod
    def parse(cls, older_than: str, statuses: tuple[JobStatus, ...] = ()) -> Retention:
        """From a request's words; InvalidRequest (a 400) for anything else."""
        age = parse_duration(older_than)
        if age is None or not timedelta(0) < age <= MAX_AGE:
            raise InvalidRequest(
                "Invalid retention",
                f"olderThan must be a duration such as 90s, 30m, 24h, 7d or 2w, at most 10000w, "
                f"not {older_than!r}",
            )
        running = [status.value for status in statuses if status not in ENDED]
        if running:
            raise InvalidRequest(
                "Invalid retention",
                f"only ended jobs (completed, failed, cancelled) are pruned, not {running}",
            )
        return cls(age, tuple(statuses) or ENDED)

    def cutoff(self, now: datetime) -> datetime:
        """Jobs last changed before this are old enough."""
        return now - self.older_than
