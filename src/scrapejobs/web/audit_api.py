"""``GET /api/audit``: the audit log, for admins (``web/recorder.py`` writes it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import Field, StrictStr, field_validator

from scrapejobs.access import Role
from scrapejobs.audit import AuditAction, AuditEntry, AuditFilter
from scrapejobs.jobs import timestamp
from scrapejobs.schemas import StrictModel
from scrapejobs.web.auth import allow
from scrapejobs.web.envelope import success
from scrapejobs.web.jobs_api import Manager

__all__ = ["audit_json", "router"]

router = APIRouter(prefix="/api/audit", tags=["audit"], dependencies=[Depends(allow(Role.ADMIN))])


class AuditQuery(StrictModel):
    actor: Annotated[StrictStr, Field(max_length=200)] | None = None
    action: AuditAction | None = None
    target: Annotated[StrictStr, Field(max_length=300)] | None = None
    since: datetime | None = None
    """ISO 8601; without an offset, UTC."""
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0

    @field_validator("since")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo:
            return value
        return value.replace(tzinfo=UTC)


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": timestamp(entry.at),
        "actor": entry.actor,
        "role": entry.role,
        "via": entry.via,
        "address": entry.address,
        "action": entry.action.value,
        "target": entry.target,
        "before": entry.before,
        "after": entry.after,
    }


@router.get("", summary="The audit log: who changed what, when, from where; newest first")
async def audit_log(manager: Manager, query: Annotated[AuditQuery, Query()]) -> JSONResponse:
    scope = AuditFilter(
        actor=query.actor, action=query.action, target=query.target, since=query.since
    )
    entries, total = await manager.audit.listing(scope, limit=query.limit, offset=query.offset)
    pagination = {"total": total, "limit": query.limit, "offset": query.offset}
    return success([audit_json(entry) for entry in entries], pagination=pagination)
