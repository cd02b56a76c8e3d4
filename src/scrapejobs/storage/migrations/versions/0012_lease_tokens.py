"""Running jobs carry their lease's token (``jobs.lease_token``, ``scrapejobs.leases``).

Every claim writes a new random token, known only to its claimer; heartbeats
and reports must carry it, so a late report for an attempt whose lease was
reaped cannot land on the next attempt, even one claimed by the same worker
id. The token is cleared when the lease ends. A job running across this
upgrade has no token: its worker's reports are refused, and its lease
expires into a ``worker_lost`` retry as a stalled worker's would.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("lease_token", sa.String(64)))


def downgrade() -> None:
    op.execute("ALTER TABLE jobs DROP COLUMN lease_token")
