"""``/api/domains``: the fleet's sites (CONTRACT section 9). Thin: validate, call the manager.

A site is named as in ``/api/scrape-jobs`` (``example.com``, ``host:port``,
an origin) and answered under its normalized name (``127.0.0.1:8081``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, StrictBool, model_validator

from scrapejobs.access import Role
from scrapejobs.audit import AuditAction
from scrapejobs.json_schemas import SITE_PATTERN
from scrapejobs.schemas import StrictModel
from scrapejobs.sites import SiteStatus
from scrapejobs.web.auth import Admin, allow
from scrapejobs.web.envelope import success
from scrapejobs.web.jobs_api import Manager
from scrapejobs.web.recorder import Audit
from scrapejobs.web.serialize import site_json

__all__ = ["router"]

# The document's pattern only: the lookup itself says why a name is not a site (a 400).
SiteName = Annotated[
    str, Path(json_schema_extra={"pattern": SITE_PATTERN, "minLength": 1, "maxLength": 253})
]

router = APIRouter(
    prefix="/api/domains", tags=["sites"], dependencies=[Depends(allow(Role.VIEWER))]
)


class SiteQuery(StrictModel):
    state: SiteStatus | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0


class SiteUpdate(StrictModel):
    """``PATCH /api/domains/{site}``: any of these; a limit set to null is removed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    paused: StrictBool = False
    maxRequestsPerSecond: Annotated[float, Field(gt=0, le=10_000)] | None = None
    maxConcurrentRequests: Annotated[int, Field(ge=1, le=256)] | None = None

    @model_validator(mode="after")
    def _something(self) -> SiteUpdate:
        if not self.model_fields_set:
            raise ValueError("give paused, maxRequestsPerSecond or maxConcurrentRequests")
        return self

    def changes(self) -> dict[str, Any]:
        names = {
            "paused": "paused",
            "maxRequestsPerSecond": "max_requests_per_second",
            "maxConcurrentRequests": "max_concurrent_requests",
        }
        return {names[field]: getattr(self, field) for field in self.model_fields_set}


@router.get("", summary="List sites by name, with their state and jobs")
async def list_sites(manager: Manager, query: Annotated[SiteQuery, Query()]) -> JSONResponse:
    views, total = await manager.sites.list_sites(
        status=query.state, limit=query.limit, offset=query.offset
    )
    pagination = {"total": total, "limit": query.limit, "offset": query.offset}
    return success([site_json(view) for view in views], pagination=pagination)


@router.get("/{site}", summary="One site: its state, why, until when, and its jobs")
async def get_site(manager: Manager, site: SiteName) -> JSONResponse:
    return success(site_json(await manager.sites.get_site(site)))


@router.patch("/{site}", summary="Pause a site or let it go again; set its fleet-wide limits")
async def update_site(
    manager: Manager, _caller: Admin, audit: Audit, site: SiteName, body: SiteUpdate
) -> JSONResponse:
    changes = body.changes()
    view = await manager.sites.update(site, **changes)
    await audit(AuditAction.SITE_UPDATE, view.site.site, after=body.model_dump(exclude_unset=True))
    if "paused" not in changes:
        return success(site_json(view), "Site limits set")
    return success(site_json(view), "Site paused" if body.paused else "Site unpaused")


@router.post("/{site}/resume", summary="End a site's pause, cooldown and open circuit now")
async def resume_site(
    manager: Manager, _caller: Admin, audit: Audit, site: SiteName
) -> JSONResponse:
    view = await manager.sites.resume(site)
    await audit(AuditAction.SITE_RESUME, view.site.site)
    return success(site_json(view), "Site resumed")
