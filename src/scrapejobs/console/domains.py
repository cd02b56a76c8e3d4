"""``scrapejobs domains``: the fleet's sites, and pausing or resuming one. Thin adapters.

``domains [--state S]`` lists them; ``domains show SITE``, ``domains pause
SITE`` (``--unpause`` to lift it) and ``domains resume SITE`` (end its pause,
cooldown and open circuit now) act on one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from scrapejobs.console.common import (
    DEFAULT_SERVER,
    ApiKey,
    AsJson,
    Server,
    connected,
    print_json,
    stdout,
)
from scrapejobs.console.views import cell, moment
from scrapejobs.sites import SiteStatus

__all__ = ["domains_app"]

domains_app = typer.Typer(
    help="The sites jobs crawl: their state (open, cooling down, circuit open, paused), "
    "pause, resume.",
    invoke_without_command=True,
)
SiteName = Annotated[
    str, typer.Argument(metavar="SITE", help="example.com, host:port or an origin.")
]
STATE_STYLES = {"open": "green", "cooling_down": "yellow", "circuit_open": "red", "paused": "red"}


def sites_table(sites: Iterable[dict[str, Any]]) -> Table:
    """One row per site: its state, until when and why, its waiting and running jobs."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name, options in (
        ("Site", {"overflow": "fold"}),
        ("State", {"no_wrap": True}),
        ("Until", {"no_wrap": True}),
        ("Pending", {"justify": "right"}),
        ("Running", {"justify": "right"}),
        ("Why", {"overflow": "fold"}),
    ):
        table.add_column(name, **options)
    for site in sites:
        jobs = site.get("jobs") or {}
        state = str(site.get("state"))
        circuit = site.get("circuit") or {}
        until = circuit.get("openUntil") if state == "circuit_open" else site.get("cooldownUntil")
        table.add_row(
            Text(str(site.get("site"))),
            Text(state, style=STATE_STYLES.get(state, "")),
            Text(moment(until)),
            cell(jobs.get("pending")),
            cell(jobs.get("running")),
            cell(site.get("reason") or ("until resumed" if site.get("paused") else None)),
        )
    return table


def limits_text(limits: dict[str, Any]) -> str:
    """``2.5/s, 3 at once``: the site's limits for the fleet now."""
    rate = limits.get("rateLimit")
    at_once = limits.get("concurrencyLimit")
    pace = f"{rate:g}/s" if rate else "any rate"
    return f"{pace}, {at_once} at once" if at_once else pace


def _show(sites: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(sites if len(sites) != 1 else sites[0])
        return
    stdout().print(sites_table(sites))
    if len(sites) == 1:
        [site] = sites
        limits = limits_text(site.get("limits") or {})
        stdout().print(
            Text(f"Limits for the fleet: {limits}; workers on it: {site.get('workers')}")
        )


@domains_app.callback()
def domains(
    ctx: typer.Context,
    state: Annotated[SiteStatus | None, typer.Option("--state")] = None,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """List the sites jobs crawl, by name (or act on one: show, pause, resume)."""
    if ctx.invoked_subcommand is not None:
        return
    with connected(server, api_key) as client:
        sites = client.list_sites(state=state.value if state else None, limit=200)
    if as_json:
        print_json(sites)
        return
    stdout().print(sites_table(sites))


@domains_app.command("show")
def show(
    site: SiteName, server: Server = DEFAULT_SERVER, api_key: ApiKey = None, as_json: AsJson = False
) -> None:
    """One site: its state, until when and why, its jobs."""
    with connected(server, api_key) as client:
        _show([client.site(site)], as_json)


@domains_app.command("pause")
def pause(
    site: SiteName,
    unpause: Annotated[bool, typer.Option("--unpause", help="Lift the pause instead.")] = False,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Hold a site's jobs back (running crawls stop, their jobs wait) until unpaused."""
    with connected(server, api_key) as client:
        _show([client.site(site, paused=not unpause)], as_json)


@domains_app.command("limit")
def limit(
    site: SiteName,
    rate: Annotated[
        float | None,
        typer.Option("--rate", min=0, help="Requests/s for the whole fleet (0: no cap)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", min=0, max=256, help="Requests in flight, fleet-wide (0: default)."
        ),
    ] = None,
    server: Server = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: AsJson = False,
) -> None:
    """Set a site's limits for the whole fleet (every job, every worker)."""
    limits: dict[str, float | int | None] = {}
    if rate is not None:
        limits["maxRequestsPerSecond"] = rate or None
    if concurrency is not None:
        limits["maxConcurrentRequests"] = concurrency or None
    if not limits:
        raise typer.BadParameter("give --rate, --concurrency or both")
    with connected(server, api_key) as client:
        _show([client.site(site, limits=limits)], as_json)


@domains_app.command("resume")
def resume(
    site: SiteName, server: Server = DEFAULT_SERVER, api_key: ApiKey = None, as_json: AsJson = False
) -> None:
    """End a site's pause, cooldown and open circuit now."""
    with connected(server, api_key) as client:
        _show([client.site(site, resume=True)], as_json)
