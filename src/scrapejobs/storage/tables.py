"""The schema: jobs, their events (the attempt history), pages and running counts.

Alembic migrations in ``migrations/versions`` create exactly these; a test
compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

__all__ = [
    "UTCDateTime",
    "api_keys",
    "audit_log",
    "failure_counts",
    "job_counts",
    "job_events",
    "jobs",
    "metadata",
    "pages",
    "site_members",
    "sites",
]


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

_FAILURE_EVENTS = "event IN ('failed', 'retried')"

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
    # The job's current failure (Job.failure, migration 0004); failure_pattern is
    # the error type's pattern, kept as a column so that filters use an index.
    sa.Column("failure_message", sa.Text),
    sa.Column("failure_pattern", sa.String(32)),
    sa.Column("error_type", sa.String(32)),
    sa.Column("http_status", sa.Integer),
    sa.Column("retry_after", sa.Float),
    sa.Column("no_retry_reason", sa.Text),
    sa.Column("user_agent_rotations", sa.Integer, nullable=False, server_default="0"),
    # The latest retry (Job.last_retry).
    sa.Column("retry_reason", sa.Text),
    sa.Column("last_error", sa.Text),
    sa.Column("retried_at", UTCDateTime),
    sa.Column("retried_by", sa.String(200)),
    # The site it crawls (Job.site) and its waits for it (migration 0006).
    sa.Column("site", sa.String(300), nullable=False, server_default=""),
    sa.Column("site_waits", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("scheduled_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("worker_id", sa.String(200)),
    sa.Column("lease_expires_at", UTCDateTime),
    # The running attempt's lease token (Job.lease_token, migration 0012).
    sa.Column("lease_token", sa.String(64)),
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
    # A site's jobs by status (the domains API's counts).
    sa.Index("ix_jobs_site_status", "site", "status"),
)

# The shared state of each site (scrapejobs.sites.Site, migrations 0006 and
# 0007): a row for every site a job names, created with the first such job.
sites = sa.Table(
    "sites",
    metadata,
    sa.Column("site", sa.String(300), primary_key=True),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("cooldown_until", UTCDateTime),
    sa.Column("cooldown_reason", sa.Text),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("failure_streak", sa.Integer, nullable=False, server_default="0"),
    sa.Column("breaker_until", UTCDateTime),
    sa.Column("breaker_trips", sa.Integer, nullable=False, server_default="0"),
    sa.Column("breaker_reason", sa.Text),
    sa.Column("probe_job_id", sa.String(36)),
    sa.Column("probe_until", UTCDateTime),
    sa.Column("max_requests_per_second", sa.Float),
    sa.Column("max_concurrent_requests", sa.Integer),
    sa.Column("crawl_delay", sa.Float),
    sa.Column("adaptive_rate", sa.Float),
    sa.Column("rate_before", sa.Float),
    sa.Column("rate_changed_at", UTCDateTime),
    sa.Column("slowed_at", UTCDateTime),
)

# The worker processes crawling each site now (migration 0008): each renews its
# row every sync; the site's limits are shared among the rows still fresh.
site_members = sa.Table(
    "site_members",
    metadata,
    sa.Column("site", sa.String(300), primary_key=True),
    sa.Column("worker_id", sa.String(200), primary_key=True),
    sa.Column("seen_until", UTCDateTime, nullable=False),
    sa.Column("rate", sa.Float, nullable=False, server_default="0"),
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
    # On started events: seconds the attempt waited for a worker (migration 0009).
    sa.Column("queue_wait", sa.Float),
    sa.Index("ix_job_events_job", "job_id", "id"),
    sa.Index("ix_job_events_event_at", "event", "at"),
    # Analytics of the jobs created since a moment (the counts below cannot say).
    sa.Index(
        "ix_job_events_failures_since",
        "job_created_at",
        "event",
        "failure_pattern",
        "error_type",
        "domain",
        "job_type",
        postgresql_where=sa.text(_FAILURE_EVENTS),
        sqlite_where=sa.text(_FAILURE_EVENTS),
    ),
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
    # Only the first maxPageBytes were read and parsed (migration 0005).
    sa.Column("truncated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_pages_job_attempt", "job_id", "attempt", "id"),
)

# Running counts for the analytics (migration 0003), kept by the store in the
# same transaction as every change they count: jobs by the fields the stats
# group on, and failed attempts and retries. A stats query then sums a few
# thousand rows instead of a million. '' stands for "none" in key columns.
job_counts = sa.Table(
    "job_counts",
    metadata,
    sa.Column("domain", sa.String(300), primary_key=True),
    sa.Column("job_type", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("retry_count", sa.Integer, primary_key=True),
    sa.Column("error_type", sa.String(32), primary_key=True),
    sa.Column("failure_pattern", sa.String(32), primary_key=True),
    # 1 when the job used all its retries (max_retries > 0 and retry_count >= max_retries).
    sa.Column("exhausted", sa.Integer, primary_key=True),
    sa.Column("jobs", sa.BigInteger, nullable=False),
)

failure_counts = sa.Table(
    "failure_counts",
    metadata,
    sa.Column("domain", sa.String(300), primary_key=True),
    sa.Column("job_type", sa.String(32), primary_key=True),
    sa.Column("event", sa.String(32), primary_key=True),
    sa.Column("failure_pattern", sa.String(32), primary_key=True),
    sa.Column("error_type", sa.String(32), primary_key=True),
    sa.Column("events", sa.BigInteger, nullable=False),
)

# Who may call the API (scrapejobs.access, migration 0011): a SHA-256 of each
# token, never the token; a revoked key keeps its row.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
)

# Who changed what (scrapejobs.audit, migration 0013); no foreign key: entries
# outlive the jobs they name.
audit_log = sa.Table(
    "audit_log",
    metadata,
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
    sa.Index("ix_audit_log_at", "at"),
    sa.Index("ix_audit_log_actor", "actor", "id"),
    sa.Index("ix_audit_log_action", "action", "id"),
    sa.Index("ix_audit_log_target", "target", "id"),
)
