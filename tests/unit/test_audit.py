"""The audit log's rules and store on the memory store; ``tests/integration/test_audit_store.py``
runs the store's part on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from scrapejobs.access import Caller, Role, anonymous
from scrapejobs.audit import AuditAction, Audited, AuditFilter, job_change
from scrapejobs.jobs import JobStatus
from scrapejobs.manager import JobManager
from tests.conftest import Clock
from tests.factories import build_job


def test_a_change_keeps_only_the_fields_that_changed() -> None:
    before = build_job()
    after = replace(before, priority=9, status=JobStatus.CANCELLED, updated_at=before.created_at)
    assert job_change(before, after) == (
        {"status": "pending", "priority": before.priority},
        {"status": "cancelled", "priority": 9},
    )
    assert job_change(before, before) == ({}, {})


async def test_entries_are_listed_newest_first_and_filtered(
    manager: JobManager, clock: Clock
) -> None:
    ops = Audited(Caller("ops", Role.OPERATOR), via="api", address="10.0.0.7")
    cli = Audited(anonymous("cli"), via="cli")
    await manager.audit.record(ops, AuditAction.JOB_CREATE, "a", after={"domain": "a.com"})
    clock.advance(60)
    await manager.audit.record(ops, AuditAction.JOB_EDIT, "a", before={"priority": 5})
    clock.advance(60)
    await manager.audit.record(cli, AuditAction.KEY_CREATE, "bot", after={"role": "viewer"})
    found, total = await manager.audit.listing(AuditFilter())
    assert total == 3 and [e.action for e in found] == [
        AuditAction.KEY_CREATE,
        AuditAction.JOB_EDIT,
        AuditAction.JOB_CREATE,
    ]
    newest = found[0]
    assert (newest.actor, newest.role, newest.via, newest.address) == ("cli", "admin", "cli", None)
    assert found[2].address == "10.0.0.7" and found[2].after == {"domain": "a.com"}
    assert found[0].id is not None and found[0].id > found[1].id > found[2].id  # type: ignore[operator]
    by_actor, _ = await manager.audit.listing(AuditFilter(actor="ops"))
    assert len(by_actor) == 2
    by_target, _ = await manager.audit.listing(AuditFilter(target="a", action=AuditAction.JOB_EDIT))
    assert [e.before for e in by_target] == [{"priority": 5}]
    recent, count = await manager.audit.listing(AuditFilter(since=clock.now))
    assert count == 1 and recent[0].target == "bot"
    second, _ = await manager.audit.listing(AuditFilter(), limit=1, offset=1)
    assert [e.action for e in second] == [AuditAction.JOB_EDIT]
