"""Storage: the only package that knows SQL (SQLite and PostgreSQL)."""

from scrapejobs.storage.store import SqlStore

__all__ = ["SqlStore"]
