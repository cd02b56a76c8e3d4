"""The audit log's store (``scrapejobs.store.AuditStore``): in SQL, and in memory for tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from scrapejobs.audit import AuditAction, AuditEntry, AuditFilter
from scrapejobs.storage.keys import Transaction
from scrapejobs.storage.tables import audit_log

__all__ = ["MemoryAudit", "SqlAudit"]

_COLUMNS = ("at", "actor", "role", "via", "address", "target", "before", "after")


def _entry(row: Any) -> AuditEntry:
    values = {column: getattr(row, column) for column in _COLUMNS}
    return AuditEntry(id=row.id, action=AuditAction(row.action), **values)


def _where(query: AuditFilter) -> list[sa.ColumnElement[bool]]:
    c = audit_log.c
    conditions = []
    if query.actor is not None:
        conditions.append(c.actor == query.actor)
    if query.action is not None:
        conditions.append(c.action == query.action.value)
    if query.target is not None:
        conditions.append(c.target == query.target)
    if query.since is not None:
        conditions.append(c.at >= query.since)
    return conditions


class SqlAudit:
    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    async def add(self, entry: AuditEntry) -> None:
        values = {column: getattr(entry, column) for column in _COLUMNS}
        values["action"] = entry.action.value
        async with self._transaction(write=True) as conn:
            await conn.execute(audit_log.insert().values(values))

    async def listing(self, query: AuditFilter, *, limit: int, offset: int) -> list[AuditEntry]:
        statement = (
            audit_log.select()
            .where(*_where(query))
            .order_by(audit_log.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._transaction() as conn:
            return [_entry(row) for row in await conn.execute(statement)]

    async def count(self, query: AuditFilter) -> int:
        statement = sa.select(sa.func.count()).select_from(audit_log).where(*_where(query))
        async with self._transaction() as conn:
            return int((await conn.execute(statement)).scalar_one())


class MemoryAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def add(self, entry: AuditEntry) -> None:
        self.entries.append(replace(entry, id=len(self.entries) + 1))

    def _matching(self, query: AuditFilter) -> list[AuditEntry]:
        return [
            entry
            for entry in reversed(self.entries)
            if (query.actor is None or entry.actor == query.actor)
            and (query.action is None or entry.action is query.action)
            and (query.target is None or entry.target == query.target)
            and (query.since is None or entry.at >= query.since)
        ]

    async def listing(self, query: AuditFilter, *, limit: int, offset: int) -> list[AuditEntry]:
        return self._matching(query)[offset : offset + limit]

    async def count(self, query: AuditFilter) -> int:
        return len(self._matching(query))
