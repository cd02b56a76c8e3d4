"""KeyManager: the API keys' use cases (``scrapejobs.access``), for ``JobManager.keys``.

Making, listing and revoking keys, and telling who a request's token
belongs to. Once a key exists a request needs one; until then every caller
is anonymous with every right. The question "does any key exist?" is
remembered: its yes for good (keys are never deleted, so once true it stays
true), its no for a second, so that an open server does not ask the database
on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from scrapejobs.access import ApiKey, Caller, Role, anonymous, check_key_name, hash_token, new_token
from scrapejobs.errors import JobConflict, KeyNotFound, Unauthenticated
from scrapejobs.store import KeyStore

__all__ = ["NO_KEYS_RECHECK", "KeyManager"]

NO_KEYS_RECHECK = timedelta(seconds=1)


class KeyManager:
    def __init__(self, store: KeyStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._required = False
        self._no_keys_until: datetime | None = None

    async def create(self, name: str, role: Role, *, by: str) -> tuple[ApiKey, str]:
        """A new key and its token, which is not kept: whoever made it must save it now."""
        token = new_token()
        key = ApiKey(
            name=check_key_name(name),
            role=role,
            prefix=token[:12],
            created_at=self._clock(),
            created_by=by,
        )
        if not await self._store.add(key, hash_token(token)):
            raise JobConflict(
                f"A key named '{name}' exists (or did: names are not reused)", {"name": name}
            )
        self._required = True
        return key, token

    async def listing(self) -> list[ApiKey]:
        return await self._store.listing()

    async def revoke(self, name: str) -> ApiKey:
        key = await self._store.revoke(name, self._clock())
        if key is None:
            raise KeyNotFound(details={"name": name})
        return key

    async def required(self) -> bool:
        """Whether requests need a key: since the first key was made, for good.

        While none exists, the answer is asked of the database at most once per
        :data:`NO_KEYS_RECHECK` (not on every request): a key made by another
        process takes effect here within that time, one made here at once."""
        if self._required:
            return True
        now = self._clock()
        if self._no_keys_until is None or now >= self._no_keys_until:
            self._required = await self._store.exist()
            self._no_keys_until = now + NO_KEYS_RECHECK
        return self._required

    async def authenticate(self, token: str | None, *, anonymous_as: str = "api") -> Caller:
        """Who the bearer of ``token`` is; without a token, anonymous while no key exists."""
        if token is None:
            if await self.required():
                raise Unauthenticated("API key required", "send Authorization: Bearer <token>")
            return anonymous(anonymous_as)
        key = await self._store.by_hash(hash_token(token))
        if key is None or not key.active:
            raise Unauthenticated("Invalid API key", "the token is unknown or its key was revoked")
        now = self._clock()
        if key.used_long_ago(now):
            await self._store.touch(key.name, now)
        return Caller(key.name, key.role)
