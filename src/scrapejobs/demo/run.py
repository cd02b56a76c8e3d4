"""``scrapejobs demo``: the service, the demo site and the demo's jobs, in one event loop.

What ``scrapejobs serve`` runs (``web.create_app`` under uvicorn, on
127.0.0.1), with three differences:

* its database is a SQLite file in a new temporary directory, deleted on
  exit: each run starts clean, and never touches ``./scrapejobs.db`` (what
  ``make run`` uses) nor ``SCRAPEJOBS_DATABASE_URL``;
* automatic retries wait about 3 s (``retry_delays = (3,)``, +-20 %), not 60 s;
* its worker crawls with a :class:`~scrapejobs.demo.scope.DemoCrawler`,
  which reaches the demo site and nothing else (``scope.py`` says why that
  and not ``--allow-private-networks``). The worker runs inside the app's
  lifespan, on the app's manager, as ``serve``'s embedded workers do, so it
  stops before the database closes.

Once the server listens, the demo submits its jobs through the manager,
prints a guide and then each job's progress, and runs until SIGINT or
SIGTERM; then the worker stops (running crawls get a few seconds, then
their jobs are released), the server and the site stop, the temporary
directory goes, and the command exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from scrapejobs.demo.scenarios import SCENARIOS, Scenario, guide, job_request, progress
from scrapejobs.demo.scope import DemoCrawler
from scrapejobs.demo.site import HOST, DemoSite, serving
from scrapejobs.errors import ScrapeJobsError
from scrapejobs.jobs import Job
from scrapejobs.manager import JobManager
from scrapejobs.queries import JobFilter
from scrapejobs.settings import Settings
from scrapejobs.web import create_app
from scrapejobs.worker import Worker

__all__ = ["RETRY_DELAYS", "DemoError", "run_demo"]

RETRY_DELAYS = (3.0,)
SHUTDOWN_GRACE = 3.0
WATCH_INTERVAL = 0.5


class DemoError(ScrapeJobsError):
    """The demo cannot start (its port is taken)."""


def _listen(port: int) -> socket.socket:
    """The server's socket, bound before anything starts: a port in use is one line."""
    try:
        return socket.create_server((HOST, port))
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise DemoError(f"cannot listen on {HOST}:{port} ({why})", "try --port") from exc


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handling: the demo stops it, after its worker.

    (uvicorn's own would re-raise the signal once it stopped, ending the
    process before the demo site and the temporary directory are cleaned up.)
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _add_demo_worker(app: FastAPI, crawler: DemoCrawler, settings: Settings) -> None:
    """Run the demo's worker inside the app's lifespan, on the app's manager; it
    stops (and closes ``crawler``) before the app closes the database."""
    app_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with app_lifespan(app) as state:
            worker = Worker(
                app.state.manager,
                crawler,
                concurrency=len(SCENARIOS),
                shutdown_grace=settings.shutdown_grace,
                site_sync_interval=settings.site_sync_interval,
            )
            working = asyncio.create_task(worker.run())
            try:
                yield state
            finally:
                worker.stop()
                await working
                await crawler.close()

    app.router.lifespan_context = lifespan


async def _submit(manager: JobManager, origins: Sequence[str]) -> list[tuple[Scenario, Job]]:
    """One job per scenario, each on a port (a site) of its own."""
    jobs = []
    for scenario, origin in zip(SCENARIOS, origins, strict=True):
        job, _ = await manager.create_job(job_request(scenario, origin))
        jobs.append((scenario, job))
    return jobs


async def _watch(manager: JobManager, jobs: Sequence[tuple[Scenario, Job]]) -> None:
    """Print a line each time a job's status or retry count changes, until cancelled."""
    names = {job.id: scenario.name for scenario, job in jobs}
    first_configs: Mapping[str, Mapping[str, Any]] = {job.id: job.config for _, job in jobs}
    width = max(map(len, names.values()))
    seen = {job.id: (job.status.value, job.retry_count, job.site_waits) for _, job in jobs}
    started = asyncio.get_running_loop().time()
    query = JobFilter(ids=tuple(names))
    while True:
        for job in await manager.find_jobs(query, limit=len(names)):
            state = (job.status.value, job.retry_count, job.site_waits)
            if seen.get(job.id) != state:
                seen[job.id] = state
                elapsed = asyncio.get_running_loop().time() - started
                line = progress(job, first_configs[job.id], datetime.now(UTC))
                print(f"{elapsed:5.1f} s  {names[job.id]:<{width}}  {line}", flush=True)
        await asyncio.sleep(WATCH_INTERVAL)


async def _started(server: uvicorn.Server, serving_task: asyncio.Task[None]) -> bool:
    """Wait until the server listens (True) or has stopped trying (False)."""
    while not server.started:
        if serving_task.done():
            return False
        await asyncio.sleep(0.05)  # uvicorn sets a flag; it has no event to await
    return True


async def _run(
    server: _Server, listening: socket.socket, app: FastAPI, site: DemoSite, database: Path
) -> None:
    """Serve until a signal (or the server stops by itself)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    serving_task = asyncio.create_task(server.serve(sockets=[listening]))
    watching: asyncio.Task[None] | None = None
    try:
        if await _started(server, serving_task):
            manager: JobManager = app.state.manager
            jobs = await _submit(manager, site.origins)
            base_url = f"http://{server.config.host}:{server.config.port}"
            print(guide(base_url, str(database), jobs), flush=True)
            watching = asyncio.create_task(_watch(manager, jobs))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({serving_task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            await asyncio.gather(stopping, return_exceptions=True)
    finally:
        if watching is not None:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        print("\nstopping the demo...", flush=True)
        server.should_exit = True
        await serving_task
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def run_demo(*, port: int = 3000, log_level: str = "warning") -> None:
    """Run the demo on ``http://127.0.0.1:<port>`` until SIGINT or SIGTERM."""
    listening = _listen(port)
    with listening, tempfile.TemporaryDirectory(prefix="scrapejobs-demo-") as directory:
        database = Path(directory) / "scrapejobs-demo.db"
        settings = Settings(
            database_url=f"sqlite:///{database}",
            retry_delays=RETRY_DELAYS,
            workers=0,  # the app's own: the demo runs its worker (_add_demo_worker)
            shutdown_grace=SHUTDOWN_GRACE,
        )
        app = create_app(settings)
        site = DemoSite(ports=len(SCENARIOS))
        async with serving(site):
            crawler = DemoCrawler(site.origins, HOST)
            # A failing page fails one whole attempt: its first request and the in-crawl retries.
            site.failing = 1 + len(crawler.options.retry_delays)
            _add_demo_worker(app, crawler, settings)
            config = uvicorn.Config(
                app, host=HOST, port=port, log_level=log_level, timeout_graceful_shutdown=5
            )
            await _run(_Server(config), listening, app, site, database)
    print(f"demo stopped; {directory} deleted", flush=True)
