"""The queue's hot statements, built once: the claim and the save.

Building a statement and its cache key on every call cost more CPU than the
database spent running it (bench/queue_throughput.py); these are built once, with every
value a bound parameter, so each call only binds and sends.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from scrapejobs.jobs import JobStatus
from scrapejobs.leases import LEASE_TOKEN_LENGTH
from scrapejobs.storage import sites as site_rows
from scrapejobs.storage.tables import UTCDateTime, jobs, sites

__all__ = ["CLAIM", "NOT_SAVED", "SAVE"]

ROW_SITE: sa.ColumnElement[Any] = sa.literal_column("jobs.site")
"""The updated row's site, qualified: in an UPDATE's RETURNING, SQLite would read a
bare ``site`` inside a subquery on ``sites`` as ``sites.site``."""


def _site_flag(condition: sa.ColumnElement[bool], name: str) -> sa.Label[Any]:
    """``condition`` on the updated row's site, returned with the row as ``name``."""
    flag = sa.select(condition).where(sites.c.site == ROW_SITE).scalar_subquery()
    return sa.func.coalesce(flag, sa.false()).label(name)


NOT_SAVED = frozenset({"id", "created_at", "idempotency_key", "request_fingerprint"})
"""Columns a save leaves as they are: fixed at creation."""


def _save() -> sa.Update:
    """Write a job's new state if it is still as read (``:old_id``, ``:old_version``,
    ``:old_status``), every column a parameter ``:v_<column>``: built once. Each
    row comes back with ``site_failing``: its site counts failures or has an open
    circuit, which a success must close (``Site.answered``)."""
    columns = [c for c in jobs.c if c.name not in NOT_SAVED]
    failing = sa.or_(sites.c.failure_streak > 0, sites.c.breaker_until.is_not(None))
    return (
        jobs.update()
        .where(
            jobs.c.id == sa.bindparam("old_id"),
            jobs.c.version == sa.bindparam("old_version"),
            jobs.c.status == sa.bindparam("old_status"),
        )
        .values({c: sa.bindparam(f"v_{c.name}", type_=c.type) for c in columns})
        .returning(*jobs.c, _site_flag(failing, "site_failing"))
    )


SAVE = _save()


def _claim(postgres: bool) -> sa.Update:
    """Claim up to ``:limit`` due jobs for ``:claimer`` at ``:now``, each under its own
    lease token: the n-th job claimed (numbered by id) takes the n-th token of
    ``:lease_tokens``, ``LEASE_TOKEN_LENGTH`` characters each, joined.

    Each row comes back with ``half_open``: its site's circuit is open or
    half-open, so the claim must also take the site's probe (rarely: only
    then does a claim cost a statement more)."""
    now = sa.bindparam("now", type_=UTCDateTime())
    held_site = sa.exists().where(sites.c.site == jobs.c.site, ~site_rows.admits(now))
    candidate = (
        sa.select(jobs.c.id)
        .where(
            jobs.c.status == JobStatus.PENDING.value,
            jobs.c.scheduled_at <= now,
            ~held_site,  # its site is paused, cooling down or down: the job waits
        )
        .order_by(jobs.c.priority.desc(), jobs.c.scheduled_at, jobs.c.created_at)
        .limit(sa.bindparam("limit", type_=sa.Integer()))
    )
    if postgres:
        candidate = candidate.with_for_update(skip_locked=True)
    # Picked once, then updated: as a plain ``IN (subquery)`` PostgreSQL may run the
    # subquery again for every row it looks at, each time skipping the rows it just
    # locked, and so claim every pending job for a LIMIT of 1.
    picked = candidate.cte("picked").prefix_with("MATERIALIZED")
    number = sa.func.row_number().over(order_by=picked.c.id)
    numbered = sa.select(picked.c.id, number.label("n")).cte("numbered").prefix_with("MATERIALIZED")
    start = sa.cast((numbered.c.n - 1) * LEASE_TOKEN_LENGTH + 1, sa.Integer)
    tokens = sa.bindparam("lease_tokens", type_=sa.String())
    token = (
        sa.select(sa.func.substr(tokens, start, LEASE_TOKEN_LENGTH))
        .where(numbered.c.id == jobs.c.id)
        .scalar_subquery()
    )
    return (
        jobs.update()
        .where(jobs.c.id.in_(sa.select(picked.c.id)), jobs.c.status == JobStatus.PENDING.value)
        .values(
            status=JobStatus.RUNNING.value,
            attempts=jobs.c.attempts + 1,
            worker_id=sa.bindparam("claimer"),
            lease_expires_at=sa.bindparam("lease_until", type_=UTCDateTime()),
            lease_token=token,
            started_at=now,
            updated_at=now,
            version=jobs.c.version + 1,
        )
        .returning(*jobs.c, _site_flag(sites.c.breaker_until.is_not(None), "half_open"))
    )


CLAIM = {postgres: _claim(postgres) for postgres in (False, True)}
"""The claim, built once: SQLite's, and PostgreSQL's (``FOR UPDATE SKIP LOCKED``)."""
