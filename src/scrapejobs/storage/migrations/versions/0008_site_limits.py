"""Sites get limits shared by the fleet (``scrapejobs.limits``).

``sites``: the operator's caps (requests per second, requests in flight), the
``Crawl-delay`` a crawl read, and the fleet's lowered rate after 429s and
503s. ``site_members``: the worker processes crawling each site now, each
with its row renewed every sync and the rate it sent at.

Revision ID: 0008
Revises: 0007
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from scrapejobs.storage.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("max_requests_per_second", sa.Float),
        sa.Column("max_concurrent_requests", sa.Integer),
        sa.Column("crawl_delay", sa.Float),
        sa.Column("adaptive_rate", sa.Float),
        sa.Column("rate_before", sa.Float),
        sa.Column("rate_changed_at", UTCDateTime),
        sa.Column("slowed_at", UTCDateTime),
    ]


def upgrade() -> None:
    for column in _columns():
        op.add_column("sites", column)
    op.create_table(
        "site_members",
        sa.Column("site", sa.String(300), primary_key=True),
        sa.Column("worker_id", sa.String(200), primary_key=True),
        sa.Column("seen_until", UTCDateTime, nullable=False),
        sa.Column("rate", sa.Float, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("site_members")
    for column in reversed(_columns()):
        op.execute(f"ALTER TABLE sites DROP COLUMN {column.name}")
