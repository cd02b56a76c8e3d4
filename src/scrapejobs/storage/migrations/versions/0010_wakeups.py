"""PostgreSQL: a job that becomes (or stays) pending notifies ``scrapejobs_jobs``.

Workers ``LISTEN`` on that channel (``storage/wakeups.py``) and claim within
milliseconds instead of at their next poll. The trigger runs in the
transaction of the change, so the notification is sent on its commit, never
for a change that rolled back; PostgreSQL folds a transaction's duplicate
notifications into one. SQLite has no such thing: a single process wakes its
own workers, others poll.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION scrapejobs_notify_pending() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('scrapejobs_jobs', '');
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        """
        CREATE TRIGGER jobs_notify_pending
        AFTER INSERT OR UPDATE OF status, scheduled_at ON jobs
        FOR EACH ROW WHEN (NEW.status = 'pending')
        EXECUTE FUNCTION scrapejobs_notify_pending()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER jobs_notify_pending ON jobs")
    op.execute("DROP FUNCTION scrapejobs_notify_pending()")
