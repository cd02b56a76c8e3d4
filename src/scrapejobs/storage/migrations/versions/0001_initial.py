"""Jobs and job events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from scrapejobs.storage.tables import JSONDocument, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("domain", sa.String(300), nullable=False),
        sa.Column("job_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("retry_count", sa.Integer, nullable=False),
        sa.Column("max_retries", sa.Integer, nullable=False),
        sa.Column("config", JSONDocument, nullable=False),
        sa.Column("metadata", JSONDocument, nullable=False),
        sa.Column("error_message", sa.Text),
        sa.Column("failure_pattern", sa.String(32)),
        sa.Column("error_type", sa.String(32)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("scheduled_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("completed_at", UTCDateTime),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("worker_id", sa.String(200)),
        sa.Column("lease_expires_at", UTCDateTime),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(255), unique=True),
        sa.Column("request_fingerprint", sa.String(64)),
    )
    op.create_index(
        "ix_jobs_claim",
        "jobs",
        [sa.text("priority DESC"), "scheduled_at"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_jobs_lease",
        "jobs",
        ["lease_expires_at"],
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )
    op.create_index("ix_jobs_created", "jobs", ["created_at", "id"])
    for name, column in (
        ("ix_jobs_status_created", "status"),
        ("ix_jobs_domain_created", "domain"),
        ("ix_jobs_type_created", "job_type"),
        ("ix_jobs_pattern_created", "failure_pattern"),
    ):
        op.create_index(name, "jobs", [column, "created_at"])

    op.create_table(
        "job_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column(
            "job_id",
            sa.String(36),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer),
        sa.Column("retry_count", sa.Integer, nullable=False),
        sa.Column("error_message", sa.Text),
        sa.Column("error_type", sa.String(32)),
        sa.Column("failure_pattern", sa.String(32)),
        sa.Column("http_status", sa.Integer),
        sa.Column("details", JSONDocument),
    )
    op.create_index("ix_job_events_job", "job_events", ["job_id", "id"])
    op.create_index("ix_job_events_event_at", "job_events", ["event", "at"])


def downgrade() -> None:
    op.drop_table("job_events")
    op.drop_table("jobs")
