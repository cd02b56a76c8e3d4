"""The operator commands: run a scrapejobs server from a shell, over its HTTP API.

``submit``, ``jobs``, ``show``, ``retry``, ``cancel``, ``stats`` and
``results`` use :class:`scrapejobs.Client` and nothing else of the server.
Where things are::

    common.py    --server, --json, exit codes, error output
    submit.py    submit (every job field as an option, --wait)
    commands.py  jobs, show, retry (single and bulk), cancel, stats, results
    views.py     Rich renderings of jobs, attempts and bulk results
    watch.py     the live progress of submit --wait, and its summary
    report.py    the stats report
    export.py    results as JSONL, JSON or CSV
"""

from __future__ import annotations

import typer

from scrapejobs.console.commands import cancel, jobs, results, retry, show, stats
from scrapejobs.console.common import PANEL
from scrapejobs.console.submit import submit

__all__ = ["register"]

COMMANDS = (submit, jobs, show, retry, cancel, stats, results)


def register(app: typer.Typer) -> None:
    """Add the operator commands to the ``scrapejobs`` app."""
    for command in COMMANDS:
        app.command(rich_help_panel=PANEL)(command)
