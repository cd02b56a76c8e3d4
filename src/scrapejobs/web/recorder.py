"""How a route records the change it made in the audit log (``scrapejobs.audit``).

A route that changes something takes ``audit: Audit`` and, once the use case
has returned, says what it did (``await audit.job(AuditAction.JOB_RETRY,
before, after)``); who, with which role, from which address and through
what (``api``, ``dashboard``) the recorder knows from the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from scrapejobs.access import Caller
from scrapejobs.audit import AuditAction, Audited, job_change, job_fields
from scrapejobs.audit_log import AuditLog
from scrapejobs.jobs import Job
from scrapejobs.web.auth import current_caller, via

__all__ = ["Audit", "Recorder"]


@dataclass(frozen=True, slots=True)
class Recorder:
    log: AuditLog
    who: Audited

    async def __call__(
        self,
        action: AuditAction,
        target: str | None = None,
        *,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        await self.log.record(self.who, action, target, before=before, after=after)

    async def job(self, action: AuditAction, before: Job | None, after: Job | None) -> None:
        """A change to one job: the fields it changed, or all of them when it came or went."""
        if before is not None and after is not None:
            old, new = job_change(before, after)
            await self(action, after.id, before=old, after=new)
            return
        job = after or before
        assert job is not None
        await self(
            action,
            job.id,
            before=job_fields(before) if before else None,
            after=job_fields(after) if after else None,
        )


def recorder(request: Request, caller: Annotated[Caller, Depends(current_caller)]) -> Recorder:
    address = request.client.host if request.client else None
    who = Audited(caller, via(request.url.path), address)
    return Recorder(request.app.state.manager.audit, who)


Audit = Annotated[Recorder, Depends(recorder)]
