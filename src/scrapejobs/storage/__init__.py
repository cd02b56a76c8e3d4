"""Storage: the only package that knows SQL (SQLite and PostgreSQL)."""

from scrapejobs.storage.store import JobFilter, JobStore

__all__ = ["JobFilter", "JobStore"]
