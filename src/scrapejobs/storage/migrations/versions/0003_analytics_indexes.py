"""Retry analytics (``GET /api/scrape-jobs/stats``): event copies of job fields, indexes.

Events get copies of their job's fixed fields (domain, job type, creation
time), so that the analytics filter failures and retries without joining
the jobs table; existing events are filled from their jobs. Each index lets
one statement of ``JobStore.stats_counts`` read an index instead of a table;
``bench/stats_scale.py`` measures them on 1,000,000 jobs.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from scrapejobs.storage.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

RETRIED = sa.text("retry_count > 0")
FAILED_ONCE = sa.text("error_type IS NOT NULL")
EXHAUSTED = sa.text("status = 'failed' AND max_retries > 0 AND retry_count >= max_retries")
COPIES = {"domain": "domain", "job_type": "job_type", "job_created_at": "created_at"}


def upgrade() -> None:
    with op.batch_alter_table("job_events") as batch:
        batch.add_column(sa.Column("domain", sa.String(300)))
        batch.add_column(sa.Column("job_type", sa.String(32)))
        batch.add_column(sa.Column("job_created_at", UTCDateTime))
    # One pass over the events (UPDATE ... FROM: PostgreSQL, and SQLite >= 3.33).
    copies = ", ".join(f"{column} = jobs.{source}" for column, source in COPIES.items())
    op.execute(f"UPDATE job_events SET {copies} FROM jobs WHERE jobs.id = job_events.job_id")
    op.create_index("ix_jobs_retries_status", "jobs", ["retry_count", "status", "job_type"])
    op.create_index("ix_jobs_domain_retries", "jobs", ["domain", "retry_count", "status"])
    for name, columns, where in (
        ("ix_jobs_retried_domain", ["domain", "retry_count"], RETRIED),
        ("ix_jobs_error_domain", ["error_type", "domain"], FAILED_ONCE),
        ("ix_jobs_exhausted", ["failure_pattern"], EXHAUSTED),
    ):
        op.create_index(name, "jobs", columns, postgresql_where=where, sqlite_where=where)
    op.create_index(
        "ix_job_events_failures",
        "job_events",
        ["event", "job_created_at", "failure_pattern", "error_type", "job_type"],
    )
    op.create_index(
        "ix_job_events_domain_failures",
        "job_events",
        ["domain", "event", "failure_pattern", "error_type"],
    )


def downgrade() -> None:
    for name in ("ix_job_events_domain_failures", "ix_job_events_failures"):
        op.drop_index(name, "job_events")
    for name in (
        "ix_jobs_exhausted",
        "ix_jobs_error_domain",
        "ix_jobs_retried_domain",
        "ix_jobs_domain_retries",
        "ix_jobs_retries_status",
    ):
        op.drop_index(name, "jobs")
    with op.batch_alter_table("job_events") as batch:
        for column in COPIES:
            batch.drop_column(column)
