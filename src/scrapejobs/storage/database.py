"""Engines for SQLite and PostgreSQL from the URLs users write.

Users give ``sqlite:///./scrapejobs.db`` or ``postgresql://user@host/db``;
this module picks the async drivers (aiosqlite, asyncpg) and sets SQLite up
for several writers: WAL, a busy timeout, foreign keys, and ``BEGIN
IMMEDIATE`` for write transactions so that a transaction never has to
upgrade a read lock (which SQLite answers with "database is locked" at once,
without waiting).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["WRITE", "async_url", "make_engine"]

SQLITE_BUSY_TIMEOUT_S = 30.0
# Execution option that marks a connection as a writer (BEGIN IMMEDIATE on SQLite).
WRITE = "scrapejobs_write"

_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str) -> sa.URL:
    """``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``; the same for PostgreSQL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in _DRIVERS:
        raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")
    return parsed.set(drivername=_DRIVERS[backend])


def _setup_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` with the settings each backend needs."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        engine = create_async_engine(
            target, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **kwargs
        )
        _setup_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # JIT compilation costs ~100 ms on the analytics aggregates and buys nothing
    # for queries this size (measured in bench/stats_scale.py).
    connect_args = {"server_settings": {"jit": "off"}}
    return create_async_engine(target, pool_pre_ping=True, connect_args=connect_args, **kwargs)
