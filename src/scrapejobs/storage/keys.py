"""The API keys' store (``scrapejobs.store.KeyStore``): in SQL, and in memory for tests."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scrapejobs.access import ApiKey, Role
from scrapejobs.storage.tables import api_keys

__all__ = ["MemoryKeys", "SqlKeys"]

Transaction = Callable[..., AbstractAsyncContextManager[AsyncConnection]]
_COLUMNS = ("name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at")


def _key(row: Any) -> ApiKey:
    return ApiKey(role=Role(row.role), **{column: getattr(row, column) for column in _COLUMNS})


class SqlKeys:
    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    async def add(self, key: ApiKey, token_hash: str) -> bool:
        values = {column: getattr(key, column) for column in _COLUMNS}
        values |= {"role": key.role.value, "token_hash": token_hash}
        try:
            async with self._transaction(write=True) as conn:
                await conn.execute(api_keys.insert().values(values))
        except sa.exc.IntegrityError:
            return False
        return True

    async def listing(self) -> list[ApiKey]:
        async with self._transaction() as conn:
            rows = await conn.execute(api_keys.select().order_by(api_keys.c.created_at))
            return [_key(row) for row in rows]

    async def by_hash(self, token_hash: str) -> ApiKey | None:
        async with self._transaction() as conn:
            found = await conn.execute(api_keys.select().where(api_keys.c.token_hash == token_hash))
            row = found.first()
        return _key(row) if row else None

    async def revoke(self, name: str, at: datetime) -> ApiKey | None:
        named = api_keys.c.name == name
        not_yet = api_keys.c.revoked_at.is_(None)
        async with self._transaction(write=True) as conn:
            await conn.execute(api_keys.update().where(named, not_yet).values(revoked_at=at))
            row = (await conn.execute(api_keys.select().where(named))).first()
        return _key(row) if row else None

    async def touch(self, name: str, at: datetime) -> None:
        async with self._transaction(write=True) as conn:
            await conn.execute(
                api_keys.update().where(api_keys.c.name == name).values(last_used_at=at)
            )

    async def exist(self) -> bool:
        async with self._transaction() as conn:
            found = await conn.execute(sa.select(api_keys.c.name).limit(1))
            return found.first() is not None


class MemoryKeys:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[ApiKey, str]] = {}

    async def add(self, key: ApiKey, token_hash: str) -> bool:
        if key.name in self.keys:
            return False
        self.keys[key.name] = (key, token_hash)
        return True

    async def listing(self) -> list[ApiKey]:
        return sorted((key for key, _ in self.keys.values()), key=lambda key: key.created_at)

    async def by_hash(self, token_hash: str) -> ApiKey | None:
        return next((key for key, kept in self.keys.values() if kept == token_hash), None)

    async def revoke(self, name: str, at: datetime) -> ApiKey | None:
        return self._change(name, lambda key: replace(key, revoked_at=key.revoked_at or at))

    async def touch(self, name: str, at: datetime) -> None:
        self._change(name, lambda key: replace(key, last_used_at=at))

    async def exist(self) -> bool:
        return bool(self.keys)

    def _change(self, name: str, change: Callable[[ApiKey], ApiKey]) -> ApiKey | None:
        if name not in self.keys:
            return None
        key, token_hash = self.keys[name]
        self.keys[name] = (change(key), token_hash)
        return self.keys[name][0]
