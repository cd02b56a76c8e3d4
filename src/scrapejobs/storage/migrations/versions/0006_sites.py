"""Sites: each job names the site it crawls; sites keep their shared state.

- ``jobs.site``: the host (and port) a job crawls (``scrapejobs.sites.site_of``:
  its startUrl's, else its domain's), filled here for existing jobs, with an
  index by status for the domains API; ``jobs.site_waits`` counts the
  attempts in a row that its site's cooldown stopped.
- ``sites``: one row per site (paused, cooldown until when and why), one for
  every site the existing jobs name.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from scrapejobs.sites import site_of
from scrapejobs.storage.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 5_000
JOBS = sa.table("jobs", sa.column("id"), sa.column("domain"), sa.column("config", sa.JSON))


def _sites_of_jobs(connection: sa.Connection) -> Iterator[list[dict[str, Any]]]:
    """(id, site) of every job, in batches, computed as ``Job.site`` is."""
    after = ""
    while True:
        rows = connection.execute(
            sa.select(JOBS.c.id, JOBS.c.domain, JOBS.c.config)
            .where(JOBS.c.id > after)
            .order_by(JOBS.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield [
            {"job_id": job_id, "site": site_of(domain, (config or {}).get("startUrl") or None)}
            for job_id, domain, config in rows
        ]
        after = rows[-1][0]


def upgrade() -> None:
    op.add_column("jobs", sa.Column("site", sa.String(300), nullable=False, server_default=""))
    op.add_column("jobs", sa.Column("site_waits", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "sites",
        sa.Column("site", sa.String(300), primary_key=True),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("cooldown_until", UTCDateTime),
        sa.Column("cooldown_reason", sa.Text),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    connection = op.get_bind()
    update = sa.text("UPDATE jobs SET site = :site WHERE id = :job_id")
    for batch in _sites_of_jobs(connection):
        connection.execute(update, batch)
    now = datetime.now(UTC)
    named: sa.Select[Any] = sa.select(sa.column("site")).select_from(sa.table("jobs")).distinct()
    sites = [{"site": site, "updated_at": now} for (site,) in connection.execute(named)]
    if sites:
        table = sa.table("sites", sa.column("site"), sa.column("updated_at", UTCDateTime))
        connection.execute(table.insert(), sites)
    op.create_index("ix_jobs_site_status", "jobs", ["site", "status"])


def downgrade() -> None:
    op.drop_index("ix_jobs_site_status", "jobs")
    op.drop_table("sites")
    op.execute("ALTER TABLE jobs DROP COLUMN site_waits")
    op.execute("ALTER TABLE jobs DROP COLUMN site")
