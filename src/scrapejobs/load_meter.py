"""Measuring a worker process's load for its autoscaled pool (``scrapejobs.autoscale``).

Over one interval: how late the event loop wakes from a 0.1 s sleep (a busy
loop delays every crawl it runs), the process's CPU time over wall time, and
the machine's available memory (``/proc/meminfo``; unknown elsewhere).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from scrapejobs.autoscale import Load

__all__ = ["PROBE", "measure_load"]

PROBE = 0.1
"""Seconds between event-loop probes."""
MEMINFO = Path("/proc/meminfo")


def free_memory() -> float | None:
    """MemAvailable over MemTotal, or None where the system does not say."""
    try:
        fields = dict(line.split(":", 1) for line in MEMINFO.read_text().splitlines())
        return int(fields["MemAvailable"].split()[0]) / int(fields["MemTotal"].split()[0])
    except (OSError, KeyError, ValueError, ZeroDivisionError):
        return None


async def measure_load(interval: float) -> Load:
    """Probe the loop every :data:`PROBE` seconds for ``interval`` seconds."""
    loop = asyncio.get_running_loop()
    wall, cpu = time.monotonic(), time.process_time()
    lags = []
    for _ in range(max(1, round(interval / PROBE))):
        before = loop.time()
        await asyncio.sleep(PROBE)
        lags.append(max(0.0, loop.time() - before - PROBE))
    elapsed = time.monotonic() - wall
    used = (time.process_time() - cpu) / elapsed if elapsed > 0 else 0.0
    return Load(tuple(lags), used, free_memory())
