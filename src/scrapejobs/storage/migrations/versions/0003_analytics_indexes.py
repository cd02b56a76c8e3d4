"""Indexes for the retry analytics (``GET /api/scrape-jobs/stats``).

Each lets one statement of ``JobStore.stats_counts`` read an index instead
of the table; ``bench/stats_scale.py`` measures them on 1,000,000 jobs.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

RETRIED = sa.text("retry_count > 0")
FAILED_ONCE = sa.text("error_type IS NOT NULL")
EXHAUSTED = sa.text("status = 'failed' AND max_retries > 0 AND retry_count >= max_retries")


def upgrade() -> None:
    op.create_index("ix_jobs_retries_status", "jobs", ["retry_count", "status"])
    for name, columns, where in (
        ("ix_jobs_retried_domain", ["domain", "retry_count"], RETRIED),
        ("ix_jobs_error_domain", ["error_type", "domain"], FAILED_ONCE),
        ("ix_jobs_exhausted", ["failure_pattern"], EXHAUSTED),
    ):
        op.create_index(name, "jobs", columns, postgresql_where=where, sqlite_where=where)
    op.create_index(
        "ix_job_events_failures", "job_events", ["event", "failure_pattern", "error_type"]
    )


def downgrade() -> None:
    op.drop_index("ix_job_events_failures", "job_events")
    for name in (
        "ix_jobs_exhausted",
        "ix_jobs_error_domain",
        "ix_jobs_retried_domain",
        "ix_jobs_retries_status",
    ):
        op.drop_index(name, "jobs")
