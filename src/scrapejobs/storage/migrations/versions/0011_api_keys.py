"""API keys (``scrapejobs.access``): who may call the API, and with which role.

Only a SHA-256 of each token is stored; the token itself is shown once, when
the key is created. A revoked key keeps its row (``revoked_at``), so that
authentication, once on, stays on, and the audit log's names stay known.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from scrapejobs.storage.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("last_used_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
