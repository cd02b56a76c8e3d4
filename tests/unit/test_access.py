"""API keys and roles (``scrapejobs.access``, ``JobManager.keys``) on the memory store;
``tests/integration/test_access.py`` runs the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from scrapejobs.access import Caller, Role, check_key_name, hash_token
from scrapejobs.errors import Forbidden, InvalidField, JobConflict, KeyNotFound, Unauthenticated
from scrapejobs.key_manager import NO_KEYS_RECHECK
from scrapejobs.manager import JobManager
from scrapejobs.store import Store
from tests.conftest import Clock


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.VIEWER, Role.VIEWER, True),
        (Role.VIEWER, Role.WORKER, False),
        (Role.WORKER, Role.VIEWER, True),
        (Role.WORKER, Role.OPERATOR, False),
        (Role.OPERATOR, Role.WORKER, True),
        (Role.OPERATOR, Role.ADMIN, False),
        (Role.ADMIN, Role.OPERATOR, True),
    ],
)
def test_roles_are_ordered(role: Role, needed: Role, allowed: bool) -> None:
    assert role.allows(needed) is allowed
    caller = Caller("k", role)
    if allowed:
        assert caller.require(needed) is caller
    else:
        with pytest.raises(Forbidden) as refused:
            caller.require(needed)
        assert refused.value.details == {"key": "k", "role": role.value, "needs": needed.value}


@pytest.mark.parametrize("name", ["", "-ci", "a b", "x" * 101, "api", "System", "dashboard", "cli"])
def test_key_names_are_actors(name: str) -> None:
    with pytest.raises(InvalidField):
        check_key_name(name)
    assert check_key_name("ci-worker.1@team") == "ci-worker.1@team"


async def test_no_keys_means_anonymous_with_every_right(manager: JobManager) -> None:
    assert not await manager.keys.required()
    caller = await manager.keys.authenticate(None)
    assert caller == Caller("api", Role.ADMIN, authenticated=False)
    assert (await manager.keys.authenticate(None, anonymous_as="dashboard")).name == "dashboard"


async def test_a_key_is_shown_once_and_kept_as_a_hash(manager: JobManager) -> None:
    key, token = await manager.keys.create("ci", Role.WORKER, by="cli")
    assert token.startswith("sjk_") and len(token) == 47
    assert key.prefix == token[:12] and key.created_by == "cli" and key.active
    listed = await manager.keys.listing()
    assert [k.name for k in listed] == ["ci"]
    assert token not in repr(listed) and hash_token(token) not in repr(listed)
    _, other = await manager.keys.create("ops", Role.OPERATOR, by="cli")
    assert other != token


async def test_a_token_names_its_key_and_role(manager: JobManager) -> None:
    _, token = await manager.keys.create("ci", Role.WORKER, by="cli")
    assert await manager.keys.required()
    assert await manager.keys.authenticate(token) == Caller("ci", Role.WORKER)
    with pytest.raises(Unauthenticated, match="API key required"):
        await manager.keys.authenticate(None)
    with pytest.raises(Unauthenticated, match="Invalid API key"):
        await manager.keys.authenticate(token + "x")


async def test_names_are_not_reused(manager: JobManager) -> None:
    await manager.keys.create("ci", Role.WORKER, by="cli")
    await manager.keys.revoke("ci")
    with pytest.raises(JobConflict, match="names are not reused"):
        await manager.keys.create("ci", Role.ADMIN, by="cli")


async def test_a_revoked_token_stops_working_and_keys_stay_required(
    manager: JobManager, clock: Clock
) -> None:
    _, token = await manager.keys.create("ci", Role.ADMIN, by="cli")
    clock.advance(5)
    revoked = await manager.keys.revoke("ci")
    assert revoked.revoked_at == clock.now and not revoked.active
    clock.advance(5)
    assert (await manager.keys.revoke("ci")).revoked_at == revoked.revoked_at  # once
    with pytest.raises(Unauthenticated):
        await manager.keys.authenticate(token)
    with pytest.raises(Unauthenticated):  # revoking the last key does not open the service
        await manager.keys.authenticate(None)
    with pytest.raises(KeyNotFound):
        await manager.keys.revoke("nobody")


async def test_last_use_is_written_at_most_once_a_minute(manager: JobManager, clock: Clock) -> None:
    _, token = await manager.keys.create("ci", Role.VIEWER, by="cli")
    first = clock.now
    await manager.keys.authenticate(token)
    clock.advance(30)
    await manager.keys.authenticate(token)
    [key] = await manager.keys.listing()
    assert key.last_used_at == first
    clock.advance(31)
    await manager.keys.authenticate(token)
    [key] = await manager.keys.listing()
    assert key.last_used_at == clock.now


async def test_another_process_sees_the_first_key(
    manager: JobManager, store: Store, clock: Clock
) -> None:
    """Two managers over one store (two servers, one database): the second needs keys
    within a second of the first making one, without being told."""
    other = JobManager(store, clock=manager.clock)
    assert not await other.keys.required()
    await manager.keys.create("ci", Role.VIEWER, by="cli")
    assert await manager.keys.required()  # at once where it was made
    clock.advance(NO_KEYS_RECHECK.total_seconds())
    assert await other.keys.required()
    with pytest.raises(Unauthenticated):
        await other.keys.authenticate(None)
