"""The audit log (``scrapejobs.audit``): who changed what, when, from where.

Not tied to the jobs by a foreign key: entries outlive deleted and pruned
jobs. Listed newest first, by ``id``; filtered by actor, action, target and
time, each with an index that starts with it.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from scrapejobs.storage.tables import JSONDocument, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("address", sa.String(100)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(300)),
        sa.Column("before", JSONDocument),
        sa.Column("after", JSONDocument),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "id"])
    op.create_index("ix_audit_log_action", "audit_log", ["action", "id"])
    op.create_index("ix_audit_log_target", "audit_log", ["target", "id"])


def downgrade() -> None:
    op.drop_table("audit_log")
