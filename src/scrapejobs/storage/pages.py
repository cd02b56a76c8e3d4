"""The pages each attempt crawled; a job's results are its latest attempt's pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scrapejobs.jobs import JobStatus
from scrapejobs.storage.tables import jobs, pages

__all__ = ["add_pages", "page_count", "pages_after"]


async def add_pages(
    conn: AsyncConnection,
    job_id: str,
    worker_id: str,
    attempt: int,
    rows: Sequence[Mapping[str, Any]],
) -> bool:
    """Store pages of a running attempt; False (nothing stored) if the lease is gone."""
    holder = sa.select(jobs.c.id).where(
        jobs.c.id == job_id,
        jobs.c.status == JobStatus.RUNNING.value,
        jobs.c.worker_id == worker_id,
        jobs.c.attempts == attempt,
    )
    if (await conn.execute(holder)).first() is None:
        return False
    if rows:
        values = [{**row, "job_id": job_id, "attempt": attempt} for row in rows]
        await conn.execute(pages.insert(), values)
    return True


async def page_count(conn: AsyncConnection, job_id: str, attempt: int) -> int:
    statement = (
        sa.select(sa.func.count())
        .select_from(pages)
        .where(pages.c.job_id == job_id, pages.c.attempt == attempt)
    )
    return int((await conn.execute(statement)).scalar_one())


async def pages_after(
    conn: AsyncConnection, job_id: str, attempt: int, after_id: int, limit: int
) -> list[dict[str, Any]]:
    """One chunk of an attempt's pages in crawl order (keyset pagination on ``id``)."""
    statement = (
        pages.select()
        .where(pages.c.job_id == job_id, pages.c.attempt == attempt, pages.c.id > after_id)
        .order_by(pages.c.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in (await conn.execute(statement)).all()]
