"""Wake-ups: an idle worker hears of a new pending job at once instead of at its next poll.

Two sources, both setting the waiters' events:

* this process: the store sets them after committing a change that left a job
  ``pending`` (a new job, a retry, a release); so a single ``scrapejobs serve``
  on SQLite wakes its embedded workers with no database round trip;
* PostgreSQL: a trigger (migration 0010) calls ``pg_notify('scrapejobs_jobs')``
  when a row becomes or stays ``pending``; one connection per process
  ``LISTEN``\\s, so workers of every process and machine wake within
  milliseconds of the commit (PostgreSQL delivers a notification on commit,
  and folds the duplicates of one transaction into one).

A job due later (a retry's backoff) wakes nobody when it becomes due: workers
still poll, with a backoff, as the fallback for that and for a lost listener
connection (which the next wait re-opens).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.engine import URL

__all__ = ["CHANNEL", "Wakeups"]

CHANNEL = "scrapejobs_jobs"

log = logging.getLogger(__name__)


class Wakeups:
    """The events of the waiting workers of one process, and its LISTEN connection."""

    def __init__(self, postgres_url: URL | None) -> None:
        self._url = postgres_url
        self._waiters: set[asyncio.Event] = set()
        self._listener: Any = None
        self._opening = asyncio.Lock()

    def notify(self) -> None:
        """A job may be due now: wake every waiter."""
        for event in self._waiters:
            event.set()

    async def watch(self, event: asyncio.Event) -> None:
        """Set ``event`` whenever a job may have become due; (re)opens the listener."""
        self._waiters.add(event)
        if self._url is not None and (self._listener is None or self._listener.is_closed()):
            async with self._opening:
                if self._listener is None or self._listener.is_closed():
                    await self._listen()

    def unwatch(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)

    async def _listen(self) -> None:
        import asyncpg

        assert self._url is not None
        dsn = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            connection = await asyncpg.connect(dsn, timeout=5)
            await connection.add_listener(CHANNEL, lambda *_: self.notify())
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("wake-ups: cannot listen (%s); workers poll", exc)
            return
        self._listener = connection

    async def close(self) -> None:
        self._waiters.clear()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
