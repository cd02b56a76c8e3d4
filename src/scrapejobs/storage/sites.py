"""The statements on ``sites``: one row of shared state per site, kept by upserts.

Every change is one ``INSERT ... ON CONFLICT DO UPDATE``, so concurrent
workers and servers never lose each other's writes: a cooldown keeps the
later of two ends whatever order they come in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from scrapejobs.jobs import JobStatus
from scrapejobs.sites import Site, SiteStatus
from scrapejobs.storage.rows import site_from_row
from scrapejobs.storage.tables import jobs, sites

__all__ = [
    "cool_down",
    "ensure",
    "get",
    "held",
    "job_counts",
    "listing",
    "set_state",
]


def _insert(conn: AsyncConnection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def held(now: datetime) -> sa.ColumnElement[bool]:
    """Whether a site row holds its jobs back at ``now`` (``Site.holds`` in SQL)."""
    return sa.or_(sites.c.paused == sa.true(), sites.c.cooldown_until > now)


def _status(status: SiteStatus, now: datetime) -> sa.ColumnElement[bool]:
    cooling = sites.c.cooldown_until > now
    if status is SiteStatus.PAUSED:
        return sites.c.paused == sa.true()
    if status is SiteStatus.COOLING_DOWN:
        return sa.and_(sites.c.paused == sa.false(), cooling)
    return sa.and_(sites.c.paused == sa.false(), sa.or_(sites.c.cooldown_until.is_(None), ~cooling))


async def ensure(conn: AsyncConnection, site: str, now: datetime) -> None:
    """The site's row, created open if it is new."""
    statement = _insert(conn)(sites).values(site=site, updated_at=now)
    await conn.execute(statement.on_conflict_do_nothing(index_elements=[sites.c.site]))


async def cool_down(
    conn: AsyncConnection, site: str, until: datetime, reason: str, now: datetime
) -> Site:
    """Cool ``site`` down until ``until``, unless it already is until later."""
    statement = _insert(conn)(sites).values(
        site=site, updated_at=now, cooldown_until=until, cooldown_reason=reason
    )
    later = sa.or_(
        sites.c.cooldown_until.is_(None),
        sites.c.cooldown_until < statement.excluded.cooldown_until,
    )
    keep = {
        "cooldown_until": sa.case(
            (later, statement.excluded.cooldown_until), else_=sites.c.cooldown_until
        ),
        "cooldown_reason": sa.case(
            (later, statement.excluded.cooldown_reason), else_=sites.c.cooldown_reason
        ),
        "updated_at": now,
    }
    upsert = statement.on_conflict_do_update(index_elements=[sites.c.site], set_=keep)
    return site_from_row((await conn.execute(upsert.returning(*sites.c))).one())


async def set_state(conn: AsyncConnection, site: str, now: datetime, **state: Any) -> Site:
    """Set ``paused`` and/or the cooldown (``resume``: both cleared) of ``site``."""
    statement = _insert(conn)(sites).values(site=site, updated_at=now, **state)
    upsert = statement.on_conflict_do_update(
        index_elements=[sites.c.site], set_={**state, "updated_at": now}
    )
    return site_from_row((await conn.execute(upsert.returning(*sites.c))).one())


async def get(conn: AsyncConnection, site: str) -> Site | None:
    row = (await conn.execute(sites.select().where(sites.c.site == site))).first()
    return site_from_row(row) if row else None


async def listing(
    conn: AsyncConnection, status: SiteStatus | None, now: datetime, limit: int, offset: int
) -> tuple[list[Site], int]:
    """A page of sites by name, and how many there are in ``status``."""
    where = [_status(status, now)] if status is not None else []
    page = sites.select().where(*where).order_by(sites.c.site).limit(limit).offset(offset)
    rows = (await conn.execute(page)).all()
    total = await conn.execute(sa.select(sa.func.count()).select_from(sites).where(*where))
    return [site_from_row(row) for row in rows], int(total.scalar_one())


async def job_counts(
    conn: AsyncConnection, names: Sequence[str]
) -> dict[str, dict[JobStatus, int]]:
    """Jobs by status of each site in ``names`` (zeros included)."""
    counts = {name: dict.fromkeys(JobStatus, 0) for name in names}
    if not names:
        return counts
    statement = (
        sa.select(jobs.c.site, jobs.c.status, sa.func.count())
        .where(jobs.c.site.in_(list(names)))
        .group_by(jobs.c.site, jobs.c.status)
    )
    for name, status, count in await conn.execute(statement):
        counts[name][JobStatus(status)] = int(count)
    return counts
