"""Access: API keys, their roles, and who a request acts as.

A key is a name, a role and a token. The token (``sjk_`` and 43 URL-safe
characters, 256 random bits) is shown once, when the key is made; only its
SHA-256 is kept. A token this random needs no slow hash: nobody can guess
one, so a stolen table of hashes gives nothing to search. Roles are ordered,
each may do what the ones below it may::

    viewer    reads everything: jobs, results, stats, sites, the dashboard
    worker    also claims jobs, extends and reports on the leases it holds
    operator  also creates, edits, retries and cancels jobs
    admin     also deletes and prunes jobs, changes sites, manages keys

Authentication is on as soon as one key has been made, and stays on: a
revoked key keeps its row, so revoking the last key does not open the
service. Until then every caller acts as ``api`` (the dashboard as
``dashboard``) with every right, as on a laptop.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from scrapejobs.errors import Forbidden, InvalidField
from scrapejobs.jobs import timestamp

__all__ = [
    "LAST_USED_EVERY",
    "TOKEN_PREFIX",
    "ApiKey",
    "Caller",
    "Role",
    "anonymous",
    "check_key_name",
    "hash_token",
    "key_json",
    "new_token",
]

TOKEN_PREFIX = "sjk_"
LAST_USED_EVERY = timedelta(minutes=1)
"""A key's ``last_used_at`` is written at most this often (not on every request)."""
RESERVED_NAMES = frozenset({"api", "cli", "dashboard", "system", "worker"})
"""The actors scrapejobs itself writes into events; a key cannot take their names."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class Role(StrEnum):
    VIEWER = "viewer"
    WORKER = "worker"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may (roles are ordered)."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_key_name(name: str) -> str:
    """A key's name is its actor in events: 1-100 of letters, digits and ``._@-``."""
    if not _NAME.fullmatch(name):
        raise InvalidField(
            "name", "1-100 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    if name.lower() in RESERVED_NAMES:
        raise InvalidField("name", f"'{name}' is what scrapejobs itself is called in events")
    return name


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    role: Role
    prefix: str
    """The token's first 12 characters, to tell keys apart in lists."""
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def used_long_ago(self, now: datetime) -> bool:
        return self.last_used_at is None or now - self.last_used_at >= LAST_USED_EVERY


def key_json(key: ApiKey) -> dict[str, str | None]:
    """A key as the API and ``keys list --json`` show it (never its token or hash)."""
    return {
        "name": key.name,
        "role": key.role.value,
        "prefix": key.prefix,
        "createdAt": timestamp(key.created_at),
        "createdBy": key.created_by,
        "lastUsedAt": timestamp(key.last_used_at) if key.last_used_at else None,
        "revokedAt": timestamp(key.revoked_at) if key.revoked_at else None,
    }


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request acts as: the actor of its events and ``retriedBy``, and its role."""

    name: str
    role: Role
    authenticated: bool = True

    def require(self, role: Role) -> Caller:
        if not self.role.allows(role):
            raise Forbidden(
                f"The {self.role.value} role may not do this",
                {"key": self.name, "role": self.role.value, "needs": role.value},
            )
        return self


def anonymous(actor: str = "api") -> Caller:
    """Every caller while no key exists: every right, named by the way it came in."""
    return Caller(actor, Role.ADMIN, authenticated=False)
