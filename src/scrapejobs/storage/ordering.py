"""A :class:`~scrapejobs.queries.JobOrder` compiled to SQL ``ORDER BY``.

Only the whitelisted keys of :class:`~scrapejobs.queries.SortKey` reach SQL,
each through the expression below. Ties keep the default order (newest
first, then ``id``), so a page never shows a job twice or skips one while
nothing changes. ``domain`` compares by code point on both databases
(PostgreSQL's ``COLLATE "C"``, SQLite's default ``BINARY``), as the
in-memory store compares Python strings.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from scrapejobs.queries import STATUS_ORDER, JobOrder, SortKey
from scrapejobs.storage.tables import jobs

__all__ = ["order_by"]

_STATUS_RANK = sa.case(
    {status.value: rank for status, rank in STATUS_ORDER.items()}, value=jobs.c.status
)


def _column(key: SortKey, postgres: bool) -> sa.ColumnElement[Any]:
    if key is SortKey.DOMAIN:
        return jobs.c.domain.collate("C") if postgres else jobs.c.domain
    columns: dict[SortKey, sa.ColumnElement[Any]] = {
        SortKey.CREATED: jobs.c.created_at,
        SortKey.UPDATED: jobs.c.updated_at,
        SortKey.PRIORITY: jobs.c.priority,
        SortKey.RETRIES: jobs.c.retry_count,
        SortKey.STATUS: _STATUS_RANK,
    }
    return columns[key]


def order_by(order: JobOrder, *, postgres: bool) -> list[sa.ColumnElement[Any]]:
    """The ``ORDER BY`` terms for ``order``: its key, then newest first, then ``id``."""
    if order.key is SortKey.CREATED:
        terms = [jobs.c.created_at, jobs.c.id]
        return [term.desc() if order.descending else term.asc() for term in terms]
    column = _column(order.key, postgres)
    first = column.desc() if order.descending else column.asc()
    return [first, jobs.c.created_at.desc(), jobs.c.id.desc()]
