"""``scrapejobs keys``: make, list and revoke API keys, in the database itself.

These commands open the database (``--database-url``) rather than a server:
the first key has to be made before any request can carry one, and whoever
can open the database may do anything anyway. Made by ``cli`` as ``admin``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from scrapejobs.access import ApiKey, Role, anonymous, key_json
from scrapejobs.audit import AuditAction, Audited
from scrapejobs.console.common import EXIT_USAGE, AsJson, fail, print_json, say, stdout
from scrapejobs.errors import ScrapeJobsError
from scrapejobs.jobs import timestamp
from scrapejobs.manager import JobManager
from scrapejobs.settings import DEFAULT_DATABASE_URL, Settings

__all__ = ["check_exposure", "keys_app"]

T = TypeVar("T")

keys_app = typer.Typer(
    help="API keys: who may call the API, with which role.", no_args_is_help=True
)

DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar="SCRAPEJOBS_DATABASE_URL",
        help="The server's database: sqlite:///path.db or postgresql://user@host:port/db",
    ),
]
ACTOR = "cli"
BY_CLI = Audited(anonymous(ACTOR), via="cli")
OPT_OUT = "--insecure-no-keys"

log = logging.getLogger(__name__)


def _run(database_url: str, use: Callable[[JobManager], Awaitable[T]]) -> T:
    from scrapejobs.service import open_store

    async def run() -> T:
        store = await open_store(Settings(database_url=database_url))
        try:
            return await use(JobManager(store))
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--database-url") from exc
    except ScrapeJobsError as exc:
        fail(exc.message, exc.details)


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, database_url: str, *, insecure_no_keys: bool) -> None:
    """``serve`` on an address others can reach, with no key: refuse, unless told loudly."""
    if _loopback(host) or _run(database_url, lambda manager: manager.keys.required()):
        return
    if insecure_no_keys:
        log.warning("serving on %s with no API key: anyone who reaches it may do anything", host)
        return
    fail(
        f"refusing to serve on {host} with no API key: anyone who reaches it could do anything",
        [
            "make a key first: scrapejobs keys create admin --role admin",
            f"or, on a network you trust entirely, pass {OPT_OUT}",
        ],
        code=EXIT_USAGE,
    )


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The key's name: the actor of what it does.")],
    role: Annotated[Role, typer.Option("--role", help="What the key may do.")] = Role.VIEWER,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    as_json: AsJson = False,
) -> None:
    """Make a key and print its token, once: only a hash of it is kept."""

    async def create(manager: JobManager) -> tuple[ApiKey, str]:
        key, token = await manager.keys.create(name, role, by=ACTOR)
        await manager.audit.record(BY_CLI, AuditAction.KEY_CREATE, name, after={"role": role.value})
        return key, token

    key, token = _run(database_url, create)
    if as_json:
        print_json({**key_json(key), "token": token})
        return
    console = stdout()
    say(console, f"Key '{key.name}' ({key.role.value}) created. Its token, shown only now:")
    say(console, token)
    say(console, "Requests send it as: Authorization: Bearer <token> (or SCRAPEJOBS_API_KEY).")


@keys_app.command("list")
def list_keys(database_url: DatabaseUrl = DEFAULT_DATABASE_URL, as_json: AsJson = False) -> None:
    """Every key, revoked ones included: name, role, token prefix, use."""
    keys = _run(database_url, lambda manager: manager.keys.listing())
    if as_json:
        print_json([key_json(key) for key in keys])
        return
    console = stdout()
    if not keys:
        say(console, "No keys: the API is open to whoever reaches it (see README).")
    for key in keys:
        used = timestamp(key.last_used_at) if key.last_used_at else "never used"
        state = f"revoked {timestamp(key.revoked_at)}" if key.revoked_at else "active"
        say(console, f"{key.name}  {key.role.value}  {key.prefix}…  {state}, {used}")


@keys_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The key to revoke.")],
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    as_json: AsJson = False,
) -> None:
    """Revoke a key: its token stops working at once, on every server."""

    async def revoke(manager: JobManager) -> ApiKey:
        key = await manager.keys.revoke(name)
        await manager.audit.record(BY_CLI, AuditAction.KEY_REVOKE, name)
        return key

    key = _run(database_url, revoke)
    if as_json:
        print_json(key_json(key))
        return
    say(stdout(), f"Key '{key.name}' revoked.")
