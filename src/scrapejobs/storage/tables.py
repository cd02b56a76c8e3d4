"""The schema: the jobs table and the job_events table (the attempt history).

Alembic migrations in ``migrations/versions`` create exactly these; a test
compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

__all__ = ["UTCDateTime", "job_events", "jobs", "metadata", "pages"]


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; ``timestamptz`` on PostgreSQL.

    SQLite has no time zones: values are stored as naive UTC text, which
    sorts and compares correctly because every value is UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument: sa.types.TypeEngine[Any] = sa.JSON().with_variant(JSONB(), "postgresql")

metadata = sa.MetaData()

_EXHAUSTED = "status = 'failed' AND max_retries > 0 AND retry_count >= max_retries"

jobs = sa.Table(
    "jobs",
    metadata,
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
    # Copies of metadata.failurePattern / errorType, so that filters use an index.
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
    # Claim: the next due pending job by priority, then oldest scheduled_at.
    sa.Index(
        "ix_jobs_claim",
        sa.text("priority DESC"),
        "scheduled_at",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
    # Lease reaper: running jobs by lease expiry.
    sa.Index(
        "ix_jobs_lease",
        "lease_expires_at",
        postgresql_where=sa.text("status = 'running'"),
        sqlite_where=sa.text("status = 'running'"),
    ),
    # List filters, newest first.
    sa.Index("ix_jobs_created", "created_at", "id"),
    sa.Index("ix_jobs_status_created", "status", "created_at"),
    sa.Index("ix_jobs_domain_created", "domain", "created_at"),
    sa.Index("ix_jobs_type_created", "job_type", "created_at"),
    sa.Index("ix_jobs_pattern_created", "failure_pattern", "created_at"),
    # Retry analytics (migration 0003): each stats statement reads one of these.
    sa.Index("ix_jobs_retries_status", "retry_count", "status", "job_type"),
    sa.Index("ix_jobs_domain_retries", "domain", "retry_count", "status"),
    sa.Index(
        "ix_jobs_retried_domain",
        "domain",
        "retry_count",
        postgresql_where=sa.text("retry_count > 0"),
        sqlite_where=sa.text("retry_count > 0"),
    ),
    sa.Index(
        "ix_jobs_error_domain",
        "error_type",
        "domain",
        postgresql_where=sa.text("error_type IS NOT NULL"),
        sqlite_where=sa.text("error_type IS NOT NULL"),
    ),
    sa.Index(
        "ix_jobs_exhausted",
        "failure_pattern",
        postgresql_where=sa.text(_EXHAUSTED),
        sqlite_where=sa.text(_EXHAUSTED),
    ),
)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
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
    # Copies of the job's fixed fields (migration 0003), so that the analytics
    # filter events without a join; filled for every event.
    sa.Column("domain", sa.String(300)),
    sa.Column("job_type", sa.String(32)),
    sa.Column("job_created_at", UTCDateTime),
    sa.Index("ix_job_events_job", "job_id", "id"),
    sa.Index("ix_job_events_event_at", "event", "at"),
    # Analytics: failures and retries overall, since a date, of a job type ...
    sa.Index(
        "ix_job_events_failures",
        "event",
        "job_created_at",
        "failure_pattern",
        "error_type",
        "job_type",
    ),
    # ... and of one domain.
    sa.Index("ix_job_events_domain_failures", "domain", "event", "failure_pattern", "error_type"),
)

# The pages each attempt crawled; results are the latest attempt's pages.
pages = sa.Table(
    "pages",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
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
    sa.Index("ix_pages_job_attempt", "job_id", "attempt", "id"),
)
