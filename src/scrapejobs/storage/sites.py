"""The statements on ``sites``: one row of shared state per site.

A change is computed by the pure ``Site`` methods on the row read locked
(:func:`update`), so concurrent workers and servers never lose each other's
writes: a cooldown keeps the later of two ends whatever order they come in.
The two statements on the hot paths mirror ``Site`` in SQL instead: the
claim's filter (:func:`admits`, :func:`take_probe`) and a success's
:func:`answered`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from scrapejobs.jobs import JobStatus
from scrapejobs.sites import CLOSED_CIRCUIT, Site, SiteStatus
from scrapejobs.storage.rows import site_from_row, site_values
from scrapejobs.storage.tables import jobs, site_members, sites

__all__ = [
    "admits",
    "answered",
    "by_state",
    "ensure",
    "get",
    "job_counts",
    "leave",
    "listing",
    "member_counts",
    "sync_members",
    "take_probe",
    "update",
]


Moment = datetime | sa.BindParameter[datetime]
"""A time, or a parameter that will be one (a statement built once, ``store._claim_statement``)."""


def _insert(conn: AsyncConnection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _probe_busy(now: Moment) -> sa.ColumnElement[bool]:
    """The probe of a half-open circuit is fresh or still running (``Site.admits``)."""
    probe = jobs.alias("probe")
    running = sa.exists().where(
        probe.c.id == sites.c.probe_job_id, probe.c.status == JobStatus.RUNNING.value
    )
    return sa.and_(sites.c.probe_job_id.is_not(None), sa.or_(sites.c.probe_until >= now, running))


def admits(now: Moment) -> sa.ColumnElement[bool]:
    """Whether a claim may take one of a site row's jobs at ``now`` (``Site.admits``)."""
    return sa.and_(
        sites.c.paused == sa.false(),
        sa.or_(sites.c.cooldown_until.is_(None), sites.c.cooldown_until <= now),
        sa.or_(
            sites.c.breaker_until.is_(None),
            sa.and_(sites.c.breaker_until <= now, ~_probe_busy(now)),
        ),
    )


def _status(status: SiteStatus, now: datetime) -> sa.ColumnElement[bool]:
    """``Site.status(now) == status`` in SQL."""
    if status is SiteStatus.PAUSED:
        return sites.c.paused == sa.true()
    running = sa.and_(sites.c.paused == sa.false(), sites.c.breaker_until.is_(None))
    if status is SiteStatus.CIRCUIT_OPEN:
        return sa.and_(sites.c.paused == sa.false(), sites.c.breaker_until.is_not(None))
    cooling = sites.c.cooldown_until > now
    if status is SiteStatus.COOLING_DOWN:
        return sa.and_(running, cooling)
    return sa.and_(running, sa.or_(sites.c.cooldown_until.is_(None), ~cooling))


async def ensure(conn: AsyncConnection, site: str, now: datetime) -> None:
    """The site's row, created open if it is new."""
    statement = _insert(conn)(sites).values(site=site, updated_at=now)
    await conn.execute(statement.on_conflict_do_nothing(index_elements=[sites.c.site]))


async def update(
    conn: AsyncConnection, site: str, change: Callable[[Site], Site], now: datetime
) -> Site:
    """Apply ``change`` to the site's state, its row locked meanwhile (created if new).

    PostgreSQL locks the row (``FOR UPDATE``); SQLite's write transactions
    are serial. So concurrent changes of one site never lose each other's.
    """
    await ensure(conn, site, now)
    read = sites.select().where(sites.c.site == site)
    if conn.dialect.name == "postgresql":
        read = read.with_for_update()
    current = site_from_row((await conn.execute(read)).one())
    new = change(current)
    if new != current:
        await conn.execute(sites.update().where(sites.c.site == site).values(site_values(new)))
    return new


async def answered(conn: AsyncConnection, site: str, now: datetime) -> None:
    """The site answered an attempt: its circuit closes, if it was not (``Site.answered``)."""
    statement = (
        sites.update()
        .where(
            sites.c.site == site,
            sa.or_(sites.c.failure_streak > 0, sites.c.breaker_until.is_not(None)),
        )
        .values(**CLOSED_CIRCUIT, updated_at=now)
    )
    await conn.execute(statement)


async def take_probe(
    conn: AsyncConnection, site: str, job_id: str, lease_until: datetime, now: datetime
) -> bool:
    """``job_id`` was just claimed: on a half-open circuit it becomes the probe
    (``Site.claimed``). False if another claim took the probe first."""
    free = sa.and_(sites.c.breaker_until <= now, ~_probe_busy(now))
    statement = (
        sites.update()
        .where(sites.c.site == site, sites.c.breaker_until.is_not(None))
        .values(
            probe_job_id=sa.case((free, job_id), else_=sites.c.probe_job_id),
            probe_until=sa.case((free, lease_until), else_=sites.c.probe_until),
            updated_at=now,
        )
        .returning(sites.c.probe_job_id)
    )
    row = (await conn.execute(statement)).first()
    return row is None or row.probe_job_id == job_id  # no row: the circuit is closed


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


async def by_state(conn: AsyncConnection, now: datetime) -> dict[SiteStatus, int]:
    """How many sites are in each state at ``now`` (one statement)."""
    statement = sa.select(
        *(sa.func.count().filter(_status(status, now)).label(status.value) for status in SiteStatus)
    ).select_from(sites)
    row = (await conn.execute(statement)).one()
    return {status: int(row._mapping[status.value] or 0) for status in SiteStatus}


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


async def sync_members(
    conn: AsyncConnection,
    worker_id: str,
    rates: Mapping[str, float],
    until: datetime,
    now: datetime,
) -> dict[str, tuple[Site | None, dict[str, float]]]:
    """``worker_id`` crawls the sites ``rates`` names (at those rates) until
    ``until``: each site's state and its fresh members with their rates."""
    names = sorted(rates)
    if not names:
        return {}
    rows = [
        {"site": name, "worker_id": worker_id, "seen_until": until, "rate": rates[name]}
        for name in names
    ]
    statement = _insert(conn)(site_members).values(rows)
    excluded = statement.excluded
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[site_members.c.site, site_members.c.worker_id],
            set_={"seen_until": excluded.seen_until, "rate": excluded.rate},
        )
    )
    found: dict[str, tuple[Site | None, dict[str, float]]] = {name: (None, {}) for name in names}
    for row in await conn.execute(sites.select().where(sites.c.site.in_(names))):
        found[row.site] = (site_from_row(row), {})
    fresh = sa.select(site_members.c.site, site_members.c.worker_id, site_members.c.rate).where(
        site_members.c.site.in_(names), site_members.c.seen_until > now
    )
    for name, member, rate in await conn.execute(fresh):
        found[name][1][member] = rate
    return found


async def member_counts(
    conn: AsyncConnection, names: Sequence[str], now: datetime
) -> dict[str, int]:
    """How many workers crawl each site in ``names`` now (zeros included)."""
    counts = dict.fromkeys(names, 0)
    statement = (
        sa.select(site_members.c.site, sa.func.count())
        .where(site_members.c.site.in_(list(names)), site_members.c.seen_until > now)
        .group_by(site_members.c.site)
    )
    for name, count in await conn.execute(statement):
        counts[name] = int(count)
    return counts


async def leave(conn: AsyncConnection, worker_id: str, names: Sequence[str]) -> None:
    """``worker_id`` no longer crawls ``names`` (all its sites when ``names`` is empty)."""
    statement = site_members.delete().where(site_members.c.worker_id == worker_id)
    if names:
        statement = statement.where(site_members.c.site.in_(list(names)))
    await conn.execute(statement)
