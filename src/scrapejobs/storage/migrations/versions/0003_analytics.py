"""Retry analytics (``GET /api/scrape-jobs/stats``): running counts, event copies of job fields.

- ``job_counts`` and ``failure_counts``: running counts of jobs and of failed
  attempts and retries, which the store keeps in the same transaction as every
  change; the stats read them instead of a million rows. Filled here from the
  existing jobs and events.
- Events get copies of their job's fixed fields (domain, job type, creation
  time), so that the stats of the jobs created since a moment count failures
  and retries without joining the jobs table; existing events are filled from
  their jobs, and one partial index covers those queries.

``bench/stats_scale.py`` measures the result on 1,000,000 jobs.

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

FAILURE_EVENTS = sa.text("event IN ('failed', 'retried')")
COPIES = {"domain": "domain", "job_type": "job_type", "job_created_at": "created_at"}


def upgrade() -> None:
    with op.batch_alter_table("job_events") as batch:
        batch.add_column(sa.Column("domain", sa.String(300)))
        batch.add_column(sa.Column("job_type", sa.String(32)))
        batch.add_column(sa.Column("job_created_at", UTCDateTime))
    # One pass over the events (UPDATE ... FROM: PostgreSQL, and SQLite >= 3.33).
    copies = ", ".join(f"{column} = jobs.{source}" for column, source in COPIES.items())
    op.execute(f"UPDATE job_events SET {copies} FROM jobs WHERE jobs.id = job_events.job_id")
    op.create_index(
        "ix_job_events_failures_since",
        "job_events",
        ["job_created_at", "event", "failure_pattern", "error_type", "domain", "job_type"],
        postgresql_where=FAILURE_EVENTS,
        sqlite_where=FAILURE_EVENTS,
    )
    op.create_table(
        "job_counts",
        sa.Column("domain", sa.String(300), primary_key=True),
        sa.Column("job_type", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("retry_count", sa.Integer, primary_key=True),
        sa.Column("error_type", sa.String(32), primary_key=True),
        sa.Column("failure_pattern", sa.String(32), primary_key=True),
        sa.Column("exhausted", sa.Integer, primary_key=True),
        sa.Column("jobs", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "failure_counts",
        sa.Column("domain", sa.String(300), primary_key=True),
        sa.Column("job_type", sa.String(32), primary_key=True),
        sa.Column("event", sa.String(32), primary_key=True),
        sa.Column("failure_pattern", sa.String(32), primary_key=True),
        sa.Column("error_type", sa.String(32), primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
    )
    op.execute(
        "INSERT INTO job_counts SELECT domain, job_type, status, retry_count,"
        " COALESCE(error_type, ''), COALESCE(failure_pattern, ''),"
        " CASE WHEN max_retries > 0 AND retry_count >= max_retries THEN 1 ELSE 0 END, COUNT(*)"
        " FROM jobs GROUP BY 1, 2, 3, 4, 5, 6, 7"
    )
    op.execute(
        "INSERT INTO failure_counts SELECT domain, job_type, event,"
        " COALESCE(failure_pattern, ''), COALESCE(error_type, ''), COUNT(*)"
        " FROM job_events WHERE event IN ('failed', 'retried') GROUP BY 1, 2, 3, 4, 5"
    )


def downgrade() -> None:
    op.drop_table("failure_counts")
    op.drop_table("job_counts")
    op.drop_index("ix_job_events_failures_since", "job_events")
    with op.batch_alter_table("job_events") as batch:
        for column in COPIES:
            batch.drop_column(column)
