"""The operator commands: run a scrapejobs server from a shell, over its HTTP API.

``submit``, ``jobs``, ``show``, ``retry``, ``cancel``, ``stats``, ``results``,
``prune`` and ``domains`` use :class:`scrapejobs.Client` and nothing else of the server.
Where things are::

    common.py    --server, --json, exit codes, error output
    submit.py    submit (every job field as an option, --wait)
    domains.py   domains: the sites, pause, resume
    commands.py  jobs, show, retry (single and bulk), cancel, stats, results, prune
    views.py     Rich renderings of jobs, attempts and bulk results
    watch.py     the live progress of submit --wait, and its summary
    report.py    the stats report
    export.py    results as JSONL, JSON or CSV
"""

from __future__ import annotations

import typer

from scrapejobs.console.commands import cancel, jobs, prune, results, retry, show, stats
from scrapejobs.console.common import PANEL
from scrapejobs.console.domains import domains_app
from scrapejobs.console.submit import submit

__all__ = ["register"]

COMMANDS = (submit, jobs, show, retry, cancel, stats, results, prune)


def register(app: typer.Typer) -> None:
    """Add the operator commands to the ``scrapejobs`` app."""
    for command in COMMANDS:
        app.command(rich_help_panel=PANEL)(command)
    app.add_typer(domains_app, name="domains", rich_help_panel=PANEL)
