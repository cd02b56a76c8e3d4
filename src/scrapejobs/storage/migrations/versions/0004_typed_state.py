"""Typed failure and retry state: the system's facts out of the user's metadata.

Before this revision the job's failure (errorType, failurePattern,
httpStatus, retryAfter), the reason no retry was scheduled, the user-agent
rotation count and the last retry (retryReason, lastError, retriedAt,
retriedBy) were keys of ``jobs.metadata``, which users could also write.
They become columns, filled from what the system itself recorded:

- the current failure is the job's latest ``failed`` event, unless the job
  completed since (a completed job carries no failure); ``retryAfter`` and
  ``noRetryReason``, which no event records, come from the old metadata;
- the last retry is the latest ``retried`` event (its reason, the message it
  answered, when and by whom); rotations count the retries after a 403;
- ``error_message`` becomes ``failure_message``: the current failure's
  message, kept while a retry answers it (the API still shows
  ``error_message`` only while the job is failed);
- the reserved keys are removed from ``metadata``, and the running counts are
  rebuilt: completed jobs no longer count under an error type, and a failed
  job with ``retry_count >= max_retries`` counts as exhausted whatever its
  ``max_retries`` (one rule for the policy, the dashboard and the analytics).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from scrapejobs.storage.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RESERVED = (
    "retryReason",
    "lastError",
    "retriedAt",
    "retriedBy",
    "failurePattern",
    "errorType",
    "httpStatus",
    "retryAfter",
    "noRetryReason",
    "userAgentRotations",
)
NEW_COLUMNS = (
    sa.Column("http_status", sa.Integer),
    sa.Column("retry_after", sa.Float),
    sa.Column("no_retry_reason", sa.Text),
    sa.Column("user_agent_rotations", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retry_reason", sa.Text),
    sa.Column("last_error", sa.Text),
    sa.Column("retried_at", UTCDateTime),
    sa.Column("retried_by", sa.String(200)),
)


def _latest(event: str, value: str) -> str:
    """``value`` (of event ``e``) for the job's latest event of kind ``event``, else NULL."""
    return (
        f"(SELECT {value} FROM job_events e WHERE e.job_id = jobs.id AND e.event = '{event}'"
        " ORDER BY e.id DESC LIMIT 1)"
    )


def _metadata_value(key: str, json_type: str) -> str:
    """``metadata.key`` when it holds a JSON value of ``json_type`` (number or string)."""
    if op.get_bind().dialect.name == "postgresql":
        cast = "::float" if json_type == "number" else ""
        return (
            f"CASE WHEN jsonb_typeof(metadata -> '{key}') = '{json_type}'"
            f" THEN (metadata ->> '{key}'){cast} END"
        )
    sqlite_types = "'integer', 'real'" if json_type == "number" else "'text'"
    return (
        f"CASE WHEN json_type(metadata, '$.{key}') IN ({sqlite_types})"
        f" THEN json_extract(metadata, '$.{key}') END"
    )


def _without_reserved_keys() -> str:
    if op.get_bind().dialect.name == "postgresql":
        keys = ", ".join(f"'{key}'" for key in RESERVED)
        return f"metadata - ARRAY[{keys}]"
    paths = ", ".join(f"'$.{key}'" for key in RESERVED)
    return f"json_remove(metadata, {paths})"


def upgrade() -> None:
    op.execute("ALTER TABLE jobs RENAME COLUMN error_message TO failure_message")
    for column in NEW_COLUMNS:
        op.add_column("jobs", column)
    failure = {
        "error_type": _latest("failed", "e.error_type"),
        "failure_pattern": _latest("failed", "e.failure_pattern"),
        "http_status": _latest("failed", "e.http_status"),
        "failure_message": _latest("failed", "e.error_message"),
    }
    assignments = ", ".join(f"{column} = {value}" for column, value in failure.items())
    op.execute(f"UPDATE jobs SET {assignments} WHERE status <> 'completed'")
    op.execute(
        "UPDATE jobs SET error_type = NULL, failure_pattern = NULL, http_status = NULL,"
        " failure_message = NULL WHERE status = 'completed'"
    )
    retry_after = _metadata_value("retryAfter", "number")
    op.execute(f"UPDATE jobs SET retry_after = {retry_after} WHERE error_type IS NOT NULL")
    no_retry = _metadata_value("noRetryReason", "string")
    op.execute(f"UPDATE jobs SET no_retry_reason = {no_retry} WHERE status = 'failed'")
    if op.get_bind().dialect.name == "postgresql":
        reason = "e.details ->> 'reason'"
    else:
        reason = "json_extract(e.details, '$.reason')"
    last_retry = {
        "retried_at": _latest("retried", "e.at"),
        "retried_by": _latest("retried", "e.actor"),
        "last_error": _latest("retried", "e.error_message"),
        "retry_reason": _latest("retried", reason),
        "user_agent_rotations": "(SELECT COUNT(*) FROM job_events e WHERE e.job_id = jobs.id"
        " AND e.event = 'retried' AND e.error_type = 'forbidden')",
    }
    assignments = ", ".join(f"{column} = {value}" for column, value in last_retry.items())
    op.execute(f"UPDATE jobs SET {assignments} WHERE retry_count > 0")
    op.execute(f"UPDATE jobs SET metadata = {_without_reserved_keys()}")
    _recount_jobs("retry_count >= max_retries")


def _recount_jobs(exhausted: str) -> None:
    op.execute("DELETE FROM job_counts")
    op.execute(
        "INSERT INTO job_counts SELECT domain, job_type, status, retry_count,"
        " COALESCE(error_type, ''), COALESCE(failure_pattern, ''),"
        f" CASE WHEN {exhausted} THEN 1 ELSE 0 END, COUNT(*)"
        " FROM jobs GROUP BY 1, 2, 3, 4, 5, 6, 7"
    )


def downgrade() -> None:
    """Back to facts in metadata; the columns go (the history stays in the events)."""
    if op.get_bind().dialect.name == "postgresql":
        facts = (
            "jsonb_strip_nulls(jsonb_build_object('errorType', error_type,"
            " 'failurePattern', failure_pattern, 'httpStatus', http_status,"
            " 'retryAfter', retry_after, 'noRetryReason', no_retry_reason,"
            " 'retryReason', retry_reason, 'lastError', last_error, 'retriedBy', retried_by,"
            " 'retriedAt', to_char(retried_at AT TIME ZONE 'UTC',"
            ' \'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\')))'
        )
        op.execute(f"UPDATE jobs SET metadata = metadata || {facts}")
    else:
        pairs = (
            ("errorType", "error_type"),
            ("failurePattern", "failure_pattern"),
            ("httpStatus", "http_status"),
            ("retryAfter", "retry_after"),
            ("noRetryReason", "no_retry_reason"),
            ("retryReason", "retry_reason"),
            ("lastError", "last_error"),
            ("retriedBy", "retried_by"),
            ("retriedAt", "strftime('%Y-%m-%dT%H:%M:%fZ', retried_at)"),
        )
        for key, value in pairs:
            op.execute(
                f"UPDATE jobs SET metadata = json_set(metadata, '$.{key}', {value})"
                f" WHERE {value} IS NOT NULL"
            )
    op.execute("UPDATE jobs SET failure_message = NULL WHERE status <> 'failed'")
    for column in NEW_COLUMNS:
        op.execute(f"ALTER TABLE jobs DROP COLUMN {column.name}")
    op.execute("ALTER TABLE jobs RENAME COLUMN failure_message TO error_message")
    _recount_jobs("max_retries > 0 AND retry_count >= max_retries")
