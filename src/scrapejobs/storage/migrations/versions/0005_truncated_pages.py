"""Pages say whether only their first ``maxPageBytes`` were read (``pages.truncated``).

Until now a page over the size cap was recorded as an error, with no title,
text or links; the crawler now parses what it read and marks the page.
Existing pages are not truncated (those were recorded as errors).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "pages", sa.Column("truncated", sa.Boolean, nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.execute("ALTER TABLE pages DROP COLUMN truncated")
