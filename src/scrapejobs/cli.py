"""The ``scrapejobs`` command. Thin: parse options, build settings, call the library.

Every option can also come from ``SCRAPEJOBS_<OPTION>`` (CONTRACT section 3).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated, Any

import typer

from scrapejobs.cli_keys import OPT_OUT, check_exposure, keys_app
from scrapejobs.console import register as register_operator_commands
from scrapejobs.errors import ScrapeJobsError
from scrapejobs.retention import parse_duration
from scrapejobs.settings import DEFAULT_DATABASE_URL, Settings, parse_retry_delays

__all__ = ["app", "main"]

app = typer.Typer(
    name="scrapejobs",
    help="Run scrape jobs that fail and recover well.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
register_operator_commands(app)  # submit, jobs, show, retry, cancel, stats, results


def _env(option: str) -> str:
    return "SCRAPEJOBS_" + option.upper().replace("-", "_")


DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar=_env("database-url"),
        help="sqlite:///path.db or postgresql://user@host:port/db",
    ),
]
RetryDelays = Annotated[
    str,
    typer.Option(
        "--retry-delays",
        envvar=_env("retry-delays"),
        help="Seconds before retry 1, 2, 3...; the last repeats.",
    ),
]
LeaseSeconds = Annotated[
    int,
    typer.Option(
        "--lease-seconds",
        min=1,
        envvar=_env("lease-seconds"),
        help="How long a claim holds without a heartbeat.",
    ),
]
AllowPrivate = Annotated[
    bool,
    typer.Option(
        "--allow-private-networks",
        envvar=_env("allow-private-networks"),
        help="Let crawls reach private, loopback and link-local addresses.",
    ),
]


ShutdownGrace = Annotated[
    float,
    typer.Option(
        "--shutdown-grace",
        min=0,
        max=3600,
        envvar=_env("shutdown-grace"),
        help="On SIGTERM, seconds to let running crawls finish before releasing their jobs.",
    ),
]


CircuitFailures = Annotated[
    int,
    typer.Option(
        "--circuit-failures",
        min=0,
        max=10_000,
        envvar=_env("circuit-failures"),
        help="Failed attempts in a row (connectivity, 5xx) that open a site's circuit (0 = never).",
    ),
]
CircuitOpenSeconds = Annotated[
    float,
    typer.Option(
        "--circuit-open-seconds",
        min=0.1,
        max=86_400,
        envvar=_env("circuit-open-seconds"),
        help="How long a site's circuit first stays open (then twice as long each time).",
    ),
]
SiteSyncInterval = Annotated[
    float,
    typer.Option(
        "--site-sync-interval",
        min=0.05,
        max=60,
        envvar=_env("site-sync-interval"),
        help="Seconds between a worker's syncs with the fleet's sites (limits, cooldowns).",
    ),
]


MinConcurrency = Annotated[
    int,
    typer.Option(
        "--min-concurrency",
        min=1,
        max=256,
        envvar=_env("min-concurrency"),
        help="Where the autoscaled pool starts and the least it shrinks to.",
    ),
]
Retention = Annotated[
    str | None,
    typer.Option(
        "--retention",
        envvar=_env("retention"),
        help="Delete ended jobs (with pages and events) unchanged for this long: 30d, 12h...",
    ),
]


def _settings(
    database_url: str, retry_delays: str, retention: str | None = None, **fields: Any
) -> Settings:
    kept = parse_duration(retention) if retention is not None else None
    if retention is not None and kept is None:
        raise typer.BadParameter(f"retention must be a duration such as 30d or 12h: {retention!r}")
    try:
        return Settings(
            database_url=database_url,
            retry_delays=parse_retry_delays(retry_delays),
            retention=kept,
            **fields,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar=_env("host"), help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, envvar=_env("port"))] = 3000,
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            max=256,
            envvar=_env("workers"),
            help="The most jobs embedded workers run at once (0 = API only).",
        ),
    ] = 16,
    min_workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=256,
            envvar=_env("min-workers"),
            help="Where the embedded workers' autoscaled pool starts and the least it shrinks to.",
        ),
    ] = 2,
    retry_delays: RetryDelays = "60,300,900",
    lease_seconds: LeaseSeconds = 60,
    allow_private_networks: AllowPrivate = False,
    shutdown_grace: ShutdownGrace = 10.0,
    circuit_failures: CircuitFailures = 5,
    circuit_open_seconds: CircuitOpenSeconds = 30.0,
    site_sync_interval: SiteSyncInterval = 1.0,
    retention: Retention = None,
    max_body_bytes: Annotated[
        int,
        typer.Option(
            min=0,
            envvar=_env("max-body-bytes"),
            help="The largest request body read; a larger one is refused with 413.",
        ),
    ] = 1024 * 1024,
    client_timeout: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=3600,
            envvar=_env("client-timeout"),
            help="Seconds a client may take over request headers, or go without sending body "
            "bytes (then 408), before its connection is closed.",
        ),
    ] = 10.0,
    insecure_no_keys: Annotated[
        bool,
        typer.Option(
            OPT_OUT,
            envvar=_env("insecure-no-keys"),
            help="Serve on a non-loopback address although no API key exists (anyone may act).",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(envvar=_env("log-level"))] = "info",
) -> None:
    """Serve the API with embedded crawl workers."""
    from scrapejobs.web import create_app, serving

    settings = _settings(
        database_url,
        retry_delays,
        retention,
        lease_seconds=lease_seconds,
        allow_private_networks=allow_private_networks,
        workers=workers,
        min_workers=min_workers,
        shutdown_grace=shutdown_grace,
        circuit_failures=circuit_failures,
        circuit_open_seconds=circuit_open_seconds,
        site_sync_interval=site_sync_interval,
        max_body_bytes=max_body_bytes,
        client_timeout=client_timeout,
    )
    check_exposure(host, database_url, insecure_no_keys=insecure_no_keys)
    serving.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        client_timeout=settings.client_timeout,
    )


@app.command()
def worker(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    concurrency: Annotated[
        int,
        typer.Option(min=1, max=256, envvar=_env("concurrency"), help="The most jobs run at once."),
    ] = 16,
    min_concurrency: MinConcurrency = 2,
    retry_delays: RetryDelays = "60,300,900",
    lease_seconds: LeaseSeconds = 60,
    allow_private_networks: AllowPrivate = False,
    shutdown_grace: ShutdownGrace = 10.0,
    metrics_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            envvar=_env("metrics-port"),
            help="Serve this worker's Prometheus metrics on 127.0.0.1:PORT (0 = off).",
        ),
    ] = 0,
    circuit_failures: CircuitFailures = 5,
    circuit_open_seconds: CircuitOpenSeconds = 30.0,
    site_sync_interval: SiteSyncInterval = 1.0,
    retention: Retention = None,
) -> None:
    """A standalone worker: claims jobs from the database and crawls them until SIGTERM."""
    settings = _settings(
        database_url,
        retry_delays,
        retention,
        lease_seconds=lease_seconds,
        allow_private_networks=allow_private_networks,
        workers=concurrency,
        min_workers=min_concurrency,
        shutdown_grace=shutdown_grace,
        circuit_failures=circuit_failures,
        circuit_open_seconds=circuit_open_seconds,
        site_sync_interval=site_sync_interval,
    )
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")
    try:
        asyncio.run(_work(settings))
    except ScrapeJobsError as exc:
        typer.echo(f"error: {exc.message}: {exc.details}", err=True)
        raise typer.Exit(1) from exc


async def _work(settings: Settings) -> None:
    """Run workers (and a lease reaper) until SIGTERM or SIGINT."""
    from scrapejobs.service import running_service

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with running_service(settings, workers=settings.workers):
        logging.getLogger(__name__).info("worker running until SIGTERM")
        await stop.wait()


@app.command()
def demo(
    port: Annotated[int, typer.Option(min=1, max=65535, envvar=_env("port"))] = 3000,
    log_level: Annotated[str, typer.Option(envvar=_env("log-level"))] = "warning",
) -> None:
    """Run the service against a local demo site that misbehaves on purpose (no internet).

    Its database is a SQLite file in a temporary directory, deleted on exit
    (docs/demo.md).
    """
    from scrapejobs.demo import run_demo

    try:
        asyncio.run(run_demo(port=port, log_level=log_level))
    except ScrapeJobsError as exc:
        typer.echo(f"error: {exc.message}: {exc.details}", err=True)
        raise typer.Exit(1) from exc


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = DEFAULT_DATABASE_URL) -> None:
    """Apply schema migrations (serve does it on start for SQLite)."""
    from scrapejobs.storage import migrate
    from scrapejobs.storage.database import make_engine

    async def run() -> str | None:
        engine = make_engine(database_url)
        try:
            await migrate.upgrade(engine)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    try:
        revision = asyncio.run(run())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--database-url") from exc
    except ScrapeJobsError as exc:
        typer.echo(f"error: {exc.message}: {exc.details}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"database schema at revision {revision}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app()
