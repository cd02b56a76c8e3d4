"""``scrapejobs demo``: the service against a bundled local site that misbehaves on purpose.

Within a minute and with no internet, a newcomer sees automatic retries
with changed config, permanent failures, the dashboard and the analytics
(docs/demo.md). Where things are::

    site.py       the demo site (aiohttp.web on 127.0.0.1): a flaky 503, a 429 with
                  Retry-After, a slow page, a 404, a robots.txt rule
    scenarios.py  the jobs, what each becomes, the guide and progress lines (pure)
    scope.py      the demo's crawler: its own site only, nothing else
    run.py        site + service + worker + jobs in one event loop, until SIGINT/SIGTERM
"""

from scrapejobs.demo.run import run_demo

__all__ = ["run_demo"]
