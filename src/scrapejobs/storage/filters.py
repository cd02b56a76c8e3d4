"""A :class:`~scrapejobs.queries.JobFilter` compiled to SQL.

Counts come from the running counts (``job_counts``) whenever that table keys
on every filter given: a sum over them costs the same however many jobs match,
a ``count(*)`` of the jobs grows with them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from scrapejobs.queries import JobFilter, id_prefix
from scrapejobs.storage.tables import job_counts, jobs

__all__ = ["by_status", "total", "where"]

Where = list[sa.ColumnElement[bool]]


def _keyed(query: JobFilter, table: sa.Table) -> Where:
    """The filters on the fields that ``jobs`` and ``job_counts`` both have."""
    clauses: Where = []
    if query.status is not None:
        clauses.append(table.c.status == query.status.value)
    if query.domain is not None:
        clauses.append(table.c.domain.in_(query.domains))
    if query.job_type is not None:
        clauses.append(table.c.job_type == query.job_type.value)
    if query.failure_pattern is not None:
        clauses.append(table.c.failure_pattern == query.failure_pattern.value)
    if query.retries_left is not None:
        if table is job_counts:  # keyed on Job.retries_exhausted
            clauses.append(table.c.exhausted == int(not query.retries_left))
        else:
            under_limit = table.c.retry_count < table.c.max_retries
            clauses.append(under_limit if query.retries_left else ~under_limit)
    return clauses


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where(query: JobFilter) -> Where:
    """The ``WHERE`` clauses on ``jobs`` that select what ``query`` matches."""
    clauses = _keyed(query, jobs)
    if query.error_contains is not None:
        pattern = "%" + _escape_like(query.error_contains) + "%"
        clauses.append(jobs.c.failure_message.ilike(pattern, escape="\\"))
    if query.ids is not None:
        clauses.append(jobs.c.id.in_(query.ids))
    if query.created_since is not None:
        clauses.append(jobs.c.created_at >= query.created_since)
    if query.search is not None:
        clauses.append(_search(query.search))
    return clauses


def _search(text: str) -> sa.ColumnElement[bool]:
    """A job id (or its start), or text in the domain or ``config.startUrl``.

    ``config["startUrl"].as_string()`` is ``config ->> 'startUrl'`` on
    PostgreSQL (JSONB) and ``json_extract(config, '$."startUrl"')`` on SQLite
    (JSON text): NULL when the job has none, which matches nothing.
    """
    pattern = "%" + _escape_like(text) + "%"
    found = [
        jobs.c.domain.ilike(pattern, escape="\\"),
        jobs.c.config["startUrl"].as_string().ilike(pattern, escape="\\"),
    ]
    if (prefix := id_prefix(text)) is not None:
        found.append(jobs.c.id.startswith(prefix, autoescape=True))
    return sa.or_(*found)


def _counted(query: JobFilter) -> bool:
    """Whether ``job_counts`` can answer for ``query``."""
    uncounted = (query.error_contains, query.ids, query.created_since, query.search)
    return all(value is None for value in uncounted)


def total(query: JobFilter) -> sa.Select[Any]:
    """How many jobs match."""
    if not _counted(query):
        return sa.select(sa.func.count()).select_from(jobs).where(*where(query))
    summed = sa.func.coalesce(sa.func.sum(job_counts.c.jobs), 0)
    return sa.select(summed).where(*_keyed(query, job_counts))


def by_status(query: JobFilter) -> sa.Select[Any]:
    """(status, jobs) for the jobs that match, whatever ``query.status`` says."""
    query = replace(query, status=None)
    if not _counted(query):
        return (
            sa.select(jobs.c.status, sa.func.count()).where(*where(query)).group_by(jobs.c.status)
        )
    return (
        sa.select(job_counts.c.status, sa.func.sum(job_counts.c.jobs))
        .where(*_keyed(query, job_counts))
        .group_by(job_counts.c.status)
    )
