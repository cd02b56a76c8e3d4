"""The dashboard's ``/audit``: the audit log, newest first, for admins.

Thin: parse the filter as ``GET /api/audit`` does, call ``manager.audit``,
shape each entry into a row, render.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from scrapejobs.access import Role
from scrapejobs.audit import AuditAction, AuditEntry, AuditFilter
from scrapejobs.jobs import timestamp
from scrapejobs.web.audit_api import AuditQuery
from scrapejobs.web.auth import allow
from scrapejobs.web.pages import PAGE_METHODS, Manager, api_validation_details, render
from scrapejobs.web.views import shorten, when

__all__ = ["router"]

router = APIRouter(include_in_schema=False, dependencies=[Depends(allow(Role.ADMIN))])
PAGE = 50


def _change(entry: AuditEntry) -> str:
    """``field: old -> new`` for each changed field, or what was created, deleted, done."""
    before, after = entry.before or {}, entry.after or {}
    if before and after:
        parts = [
            f"{name}: {_value(before.get(name))} → {_value(after.get(name))}" for name in after
        ]
        return "; ".join(parts)
    return shorten(json.dumps(after or before, ensure_ascii=False), 160) if after or before else ""


def _value(value: Any) -> str:
    return shorten(json.dumps(value, ensure_ascii=False), 60)


def _row(entry: AuditEntry) -> dict[str, Any]:
    is_job = entry.action.value.startswith("job.") and entry.action is not AuditAction.JOB_DELETE
    return {
        "at": when(entry.at),
        "at_iso": timestamp(entry.at),
        "actor": entry.actor,
        "role": entry.role,
        "via": entry.via,
        "address": entry.address or "",
        "action": entry.action.value,
        "target": entry.target or "",
        "job_link": f"/jobs/{entry.target}" if is_job and entry.target else None,
        "change": _change(entry),
    }


@router.api_route("/audit", methods=PAGE_METHODS)
async def audit_page(request: Request, manager: Manager) -> HTMLResponse:
    params = {name: value for name, value in request.query_params.items() if value}
    context: dict[str, Any] = {
        "nav": "audit",
        "params": params,
        "actions": [action.value for action in AuditAction],
        "rows": [],
        "errors": [],
    }
    try:
        query = AuditQuery.model_validate({**params, "limit": PAGE})
    except ValidationError as exc:
        context["errors"] = api_validation_details(exc)
        return render(request, "audit.html", context, status_code=400)
    scope = AuditFilter(actor=query.actor, action=query.action, target=query.target)
    entries, total = await manager.audit.listing(scope, limit=PAGE, offset=query.offset)
    context.update(rows=[_row(entry) for entry in entries], total=total, offset=query.offset)
    context["older"] = query.offset + PAGE if query.offset + PAGE < total else None
    context["newer"] = max(query.offset - PAGE, 0) if query.offset else None
    return render(request, "audit.html", context)
