"""Started events record how long their attempt waited for a worker (``job_events.queue_wait``).

Seconds from when the job was due (``jobs.scheduled_at``, which a claim does
not move) to its claim: the dashboard's queue latency. Attempts started
before this migration have no recorded wait (NULL) and are not counted: the
time they were due is not in the history. The activity queries filter on
``(event, at)``, which ``ix_job_events_event_at`` already covers.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_events", sa.Column("queue_wait", sa.Float))


def downgrade() -> None:
    op.execute("ALTER TABLE job_events DROP COLUMN queue_wait")
