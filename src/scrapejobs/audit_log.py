"""AuditLog: the audit log's use cases (``scrapejobs.audit``), for ``JobManager.audit``.

Adapters record each change right after the use case made it, with who made
it (:class:`~scrapejobs.audit.Audited`). An entry is its own small write
after the change's transaction: a crash between the two (a few
milliseconds) can lose an entry, never record a change that did not happen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from scrapejobs.audit import AuditAction, Audited, AuditEntry, AuditFilter
from scrapejobs.store import AuditStore

__all__ = ["AuditLog"]


class AuditLog:
    def __init__(self, store: AuditStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def record(
        self,
        who: Audited,
        action: AuditAction,
        target: str | None = None,
        *,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        entry = AuditEntry(
            at=self._clock(),
            actor=who.caller.name,
            role=who.caller.role.value,
            via=who.via,
            address=who.address,
            action=action,
            target=target,
            before=before,
            after=after,
        )
        await self._store.add(entry)

    async def listing(
        self, query: AuditFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[AuditEntry], int]:
        """A page of the entries that match, newest first, and how many match."""
        found = await self._store.listing(query, limit=limit, offset=offset)
        return found, await self._store.count(query)
