"""``/api/keys``: the API keys, for admins (``scrapejobs keys`` does the same on the database).

A new key's token is in the create response and nowhere else, ever.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import Field, StrictStr

from scrapejobs.access import Role, key_json
from scrapejobs.audit import AuditAction
from scrapejobs.json_schemas import Documented
from scrapejobs.schemas import StrictModel
from scrapejobs.web.auth import Admin, allow
from scrapejobs.web.envelope import success
from scrapejobs.web.jobs_api import Manager
from scrapejobs.web.recorder import Audit

__all__ = ["router"]

router = APIRouter(prefix="/api/keys", tags=["keys"], dependencies=[Depends(allow(Role.ADMIN))])


# RESERVED_NAMES in any case, for the document (ECMA patterns have no inline flags).
RESERVED = "^(?:[Aa][Pp][Ii]|[Cc][Ll][Ii]|[Dd][Aa][Ss][Hh][Bb][Oo][Aa][Rr][Dd]"
RESERVED += "|[Ss][Yy][Ss][Tt][Ee][Mm]|[Ww][Oo][Rr][Kk][Ee][Rr])$"
# What access.check_key_name takes (the check says why not).
KEY_NAME = Documented(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
KEY_NAME.extra["not"] = {"pattern": RESERVED}


class KeyCreate(StrictModel):
    name: Annotated[StrictStr, Field(min_length=1, max_length=100), KEY_NAME]
    role: Role


@router.get("", summary="Every key, revoked ones included (never a token)")
async def list_keys(manager: Manager) -> JSONResponse:
    return success([key_json(key) for key in await manager.keys.listing()])


@router.post("", status_code=201, summary="Make a key; its token is in this response only")
async def create_key(
    manager: Manager, caller: Admin, audit: Audit, body: KeyCreate
) -> JSONResponse:
    key, token = await manager.keys.create(body.name, body.role, by=caller.name)
    await audit(AuditAction.KEY_CREATE, key.name, after={"role": key.role.value})
    data = {**key_json(key), "token": token}
    return success(data, "Key created; save its token now, it is not shown again", status_code=201)


@router.delete("/{name}", summary="Revoke a key: its token stops working at once")
async def revoke_key(manager: Manager, audit: Audit, name: str) -> JSONResponse:
    key = await manager.keys.revoke(name)
    await audit(AuditAction.KEY_REVOKE, key.name)
    return success(key_json(key), "Key revoked")
