"""Pages crawled by each attempt.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from scrapejobs.storage.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column(
            "job_id",
            sa.String(36),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("final_url", sa.Text, nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("content_type", sa.String(200)),
        sa.Column("title", sa.Text),
        sa.Column("text", sa.Text),
        sa.Column("links", sa.Integer, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_pages_job_attempt", "pages", ["job_id", "attempt", "id"])


def downgrade() -> None:
    op.drop_table("pages")
