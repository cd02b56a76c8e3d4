"""Sites get a circuit breaker (``scrapejobs.sites.Breaker``).

``sites``: the site-down failures in a row, until when the circuit is open
(null: closed), how many times in a row it opened and why, and the probe job
of a half-open circuit with the end of its first lease.

Revision ID: 0007
Revises: 0006
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from scrapejobs.storage.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("failure_streak", sa.Integer, nullable=False, server_default="0"),
        sa.Column("breaker_until", UTCDateTime),
        sa.Column("breaker_trips", sa.Integer, nullable=False, server_default="0"),
        sa.Column("breaker_reason", sa.Text),
        sa.Column("probe_job_id", sa.String(36)),
        sa.Column("probe_until", UTCDateTime),
    ]


def upgrade() -> None:
    for column in _columns():
        op.add_column("sites", column)


def downgrade() -> None:
    for column in reversed(_columns()):
        op.execute(f"ALTER TABLE sites DROP COLUMN {column.name}")
