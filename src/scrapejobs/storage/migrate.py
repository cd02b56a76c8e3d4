"""Schema migrations with Alembic, run over the async engine's connection."""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from scrapejobs.errors import StorageUnavailable
from scrapejobs.storage.database import WRITE

__all__ = ["SchemaOutOfDate", "check_schema", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaOutOfDate(StorageUnavailable):
    """The database is not at the newest revision: run ``scrapejobs db upgrade``."""


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str | None:
    """The newest revision (the scripts are read once per process)."""
    return ScriptDirectory.from_config(_config()).get_current_head()


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent; nothing to do costs one query)."""

    def run(connection: sa.Connection) -> None:
        if MigrationContext.configure(connection).get_current_revision() != head_revision():
            command.upgrade(_config(connection), "head")

    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE: True})
            await conn.run_sync(run)
            await conn.commit()
    except (sa.exc.DBAPIError, OSError) as exc:
        raise StorageUnavailable("Database unavailable", str(exc).splitlines()[0]) from exc


async def current_revision(engine: AsyncEngine) -> str | None:
    def read(connection: sa.Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def check_schema(engine: AsyncEngine) -> None:
    """Fail fast, with the fix in the message, when the schema is behind."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at revision {current or 'none'}, this version needs {head}: "
            "run `scrapejobs db upgrade`"
        )
