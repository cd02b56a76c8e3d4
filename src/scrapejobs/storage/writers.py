"""Taking turns to write one SQLite file: within a process, and between processes.

SQLite has one writer at a time. Left to itself, a writer that finds the
file locked sleeps in SQLite's busy handler (1, 2, 5, 10... then 100 ms
between tries) and tries again; meanwhile the process holding the lock
commits, begins its next write at once and keeps it. With two ``serve``
processes on one file under load, a request of the loser waited for more
than 13 s at the 99th percentile (issue 14): the busy handler is not a queue.

:class:`SqliteWriters` is one. Writers of a process queue on an
``asyncio.Lock``; the process's current writer then takes an exclusive
``flock`` on ``<database>.lock`` beside the file. A process that finds it
taken blocks in the kernel (in a thread, not the event loop) and is woken
the moment the holder lets go, before the holder's next writer has even
reached the lock; so processes alternate instead of one starving. The lock
is advisory and only scrapejobs takes it; a process that never does (the
``sqlite3`` shell) still meets SQLite's own lock and busy timeout.

``SCRAPEJOBS_SQLITE_FILE_LOCK=0`` turns the file lock off, for the
benchmark that compares both (``bench/sqlite_processes.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from types import TracebackType

try:
    import fcntl
except ImportError:  # not on POSIX: SQLite's own lock only
    fcntl = None  # type: ignore[assignment]

__all__ = ["SqliteWriters"]

FILE_LOCK = os.environ.get("SCRAPEJOBS_SQLITE_FILE_LOCK", "1") != "0"


class SqliteWriters:
    """An async context manager: the turn to write ``database`` (a path, or None in memory)."""

    def __init__(self, database: str | None) -> None:
        self._turn = asyncio.Lock()
        use_file = FILE_LOCK and fcntl is not None and database not in (None, "", ":memory:")
        self._path = f"{database}.lock" if use_file else None
        self._fd: int | None = None

    async def __aenter__(self) -> None:
        await self._turn.acquire()
        try:
            await self._lock_file()
        except BaseException:
            self._turn.release()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._turn.release()

    async def _lock_file(self) -> None:
        if self._path is None:
            return
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fd = self._fd
        with contextlib.suppress(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        waiting = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The thread still gets the lock; let it go as soon as it does.
            waiting.add_done_callback(lambda done: _unlock_if_taken(done, fd))
            raise

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _unlock_if_taken(done: asyncio.Future[None], fd: int) -> None:
    if not done.cancelled() and done.exception() is None:
        fcntl.flock(fd, fcntl.LOCK_UN)
