"""Crawl one generated static site with scrapejobs and with Scrapy, and compare pages/s.

The benchmark of issue "crawl speed": a deterministic site of ``--pages``
HTML pages (5-15 KB each, a shared nav block, 10-30 links to other pages,
every page reachable breadth-first from ``/``) plus a ``robots.txt`` that
disallows ``/private/`` (a few such pages are linked; neither crawler may
fetch them). A private nginx instance on 127.0.0.1 serves it. Both
crawlers get the same start URL, depth limit, page limit and concurrency,
obey robots.txt and store every page; runs alternate (scrapejobs, Scrapy,
scrapejobs, ...) after one untimed warm-up of each.

Timing uses each crawler's own clock, so interpreter and server start-up
are not counted:

- Scrapy: ``start_time`` -> ``finish_time`` from its stats; pages = items
  in its JSON-lines feed.
- scrapejobs: the job's ``started_at`` -> ``completed_at``; pages = lines
  of ``GET /api/scrape-jobs/{id}/results?format=jsonl``.

Each run is checked: exactly the expected pages (every non-private page
within the depth limit, each once, status 200) and no request reached
``/private/`` (nginx logs that location, and only that one).

Usage (``make bench`` installs nginx and the ``bench`` extra first)::

    .venv/bin/python bench/crawl_vs_scrapy.py [--pages 3000] [--concurrency 16]
        [--depth N] [--rounds 3] [--only scrapy|scrapejobs] [--write-docs] [--keep]

The script re-runs itself with ``--scrapy-child CONFIG`` to run the spider
in a fresh interpreter; that option is internal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
DOCS_FILE = REPO / "docs" / "benchmarks.md"
DOCS_SECTION = "## Crawl speed: scrapejobs vs Scrapy"
NGINX = Path("/usr/sbin/nginx")
HOST = "127.0.0.1"
CRAWLERS = ("scrapejobs", "scrapy")

SEED = 20240611
NAV_LINKS = 20  # shared by every page: the depth-1 section pages
FANOUT = 4  # tree children per page below depth 1: 3,000 pages end at depth 5
OTHER_LINKS = (10, 30)  # links besides the nav, per page
TEXT_BYTES = (2_500, 11_000)  # paragraph text per page, for 5-15 KB pages
PRIVATE_PAGES = 5
PRIVATE_LINK_EVERY = 100  # every 100th page links one /private/ page
TARGET_RATIO = 5.0

POLL_INTERVAL_S = 0.05
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 30.0

VOCABULARY = (
    "account address adjust advice analysis answer archive article average balance "
    "batch border branch budget buffer cache capacity career catalog channel chapter "
    "client cluster column comment company contract control cookie crawler culture "
    "customer dashboard database deadline default delivery demand design detail device "
    "domain driver economy editor engine error estimate event export failure feature "
    "field figure filter format frontier garden gateway growth harbor history holiday "
    "index insight invoice journal kernel keyword ladder language layer library limit "
    "market memory message method metric mirror module network notice number office "
    "option order output owner packet parser partner pattern payment policy portal "
    "priority process product profile project protocol query queue record region "
    "report request result retry review router sample schedule schema search section "
    "server service session signal source station status storage stream summary "
    "supply system table target teacher template thread ticket timeout token traffic "
    "update upload useful vendor version volume warning weather window worker yellow"
)
WORDS = VOCABULARY.split()

__all__ = ["main"]


class BenchmarkError(Exception):
    """A run that cannot be measured or whose result is wrong; the message says why."""


# -- the site ------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A generated site on disk: each crawlable page's path and its true (BFS) depth."""

    root: Path
    depths: dict[str, int]
    private: tuple[str, ...]

    @property
    def max_depth(self) -> int:
        return max(self.depths.values())

    def expected_paths(self, depth: int) -> set[str]:
        """The pages a crawl limited to ``depth`` must store: all within reach, none private."""
        return {path for path, page_depth in self.depths.items() if page_depth <= depth}


def page_path(number: int) -> str:
    return "/" if number == 0 else f"/pages/{number}.html"


def plan_tree(pages: int) -> tuple[list[int], list[int]]:
    """Parent and depth of each page: the home page, ``NAV_LINKS`` sections, then ``FANOUT``-ary."""
    parent, depth = [-1], [0]
    for _ in range(min(NAV_LINKS, pages - 1)):
        parent.append(0)
        depth.append(1)
    next_parent = 1
    while len(parent) < pages:
        for _ in range(min(FANOUT, pages - len(parent))):
            parent.append(next_parent)
            depth.append(depth[next_parent] + 1)
        next_parent += 1
    return parent, depth


def plan_links(parent: list[int], depth: list[int], rng: random.Random) -> list[list[int]]:
    """Each page's links besides the nav: its children, its parent, and random others.

    The random others point one level down or to any level above, never
    sideways: in breadth-first order a page is first found from the level
    just above it, so a depth limit equal to the site's depth reaches every
    page even when concurrent fetches finish slightly out of order.
    """
    children: list[list[int]] = [[] for _ in parent]
    for number, up in enumerate(parent):
        if up >= 0:
            children[up].append(number)
    levels = max(depth) + 1
    at_level = [[n for n, d in enumerate(depth) if d == level] for level in range(levels + 1)]
    above = [[n for n, d in enumerate(depth) if d < level] for level in range(levels)]
    links = []
    for number, level in enumerate(depth):
        own = children[number] + ([parent[number]] if parent[number] > 0 else [])
        others = at_level[level + 1] + above[level]
        wanted = max(0, rng.randint(*OTHER_LINKS) - len(own))
        picks = rng.sample(others, min(wanted, len(others)))
        links.append(list(dict.fromkeys(own + picks)))
    return links


def prose(rng: random.Random, size: int) -> list[str]:
    """Paragraphs of generated sentences, about ``size`` characters in all."""
    paragraphs, total = [], 0
    while total < size:
        sentences = []
        for _ in range(rng.randint(3, 7)):
            words = rng.choices(WORDS, k=rng.randint(8, 20))
            sentences.append(" ".join(words).capitalize() + ".")
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        total += len(paragraph)
    return paragraphs


def render_page(title: str, nav: str, links: list[str], paragraphs: list[str]) -> str:
    """One HTML page: the nav block, a heading, the text, the related links."""
    related = "\n".join(f'<li><a href="{href}">{escape(href)}</a></li>' for href in links)
    body = "\n".join(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n"
        f'<header><a href="/">Home</a>\n<nav><ul>\n{nav}\n</ul></nav></header>\n'
        f"<main>\n<h1>{escape(title)}</h1>\n{body}\n"
        f'<section class="related"><h2>Related</h2><ul>\n{related}\n</ul></section>\n'
        "</main>\n<footer><p>Generated for the scrapejobs crawl benchmark.</p></footer>\n"
        "</body>\n</html>\n"
    )


def title_for(number: int, rng: random.Random) -> str:
    words = " ".join(word.capitalize() for word in rng.choices(WORDS, k=3))
    return "Home" if number == 0 else f"{words} ({number})"


def nav_block(sections: list[int]) -> str:
    return "\n".join(f'<li><a href="{page_path(n)}">Section {n}</a></li>' for n in sections)


def bfs_depths(graph: dict[str, list[str]]) -> dict[str, int]:
    """The shortest link distance of every page from ``/``."""
    depths = {"/": 0}
    queue = deque(["/"])
    while queue:
        path = queue.popleft()
        for target in graph[path]:
            if target not in depths:
                depths[target] = depths[path] + 1
                queue.append(target)
    return depths


def write_site(root: Path, pages: int, seed: int) -> Site:
    """Generate the site under ``root``; the same ``pages`` and ``seed`` give the same bytes."""
    rng = random.Random(seed)
    parent, depth = plan_tree(pages)
    links = plan_links(parent, depth, rng)
    sections = [n for n, level in enumerate(depth) if level == 1]
    nav = nav_block(sections)
    private = tuple(f"/private/{k}.html" for k in range(PRIVATE_PAGES))
    graph: dict[str, list[str]] = {}
    (root / "pages").mkdir(parents=True)
    (root / "private").mkdir()
    for number in range(pages):
        hrefs = [page_path(n) for n in links[number]]
        if number % PRIVATE_LINK_EVERY == 0:
            hrefs.append(private[(number // PRIVATE_LINK_EVERY) % PRIVATE_PAGES])
        graph[page_path(number)] = [
            "/",
            *map(page_path, sections),
            *(h for h in hrefs if h not in private),
        ]
        html = render_page(title_for(number, rng), nav, hrefs, prose(rng, rng.randint(*TEXT_BYTES)))
        target = root / "index.html" if number == 0 else root / page_path(number).lstrip("/")
        target.write_text(html, encoding="utf-8")
    for path in private:
        html = render_page("Private", nav, [], ["Crawlers that obey robots.txt never see this."])
        (root / path.lstrip("/")).write_text(html, encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n", encoding="utf-8")
    depths = bfs_depths(graph)
    if len(depths) != pages:
        raise BenchmarkError(f"site generator bug: {pages - len(depths)} pages unreachable")
    return Site(root=root, depths=depths, private=private)


# -- processes and HTTP --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``ready`` every 50 ms; a ``BenchmarkError`` naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise BenchmarkError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


def http(method: str, url: str, body: Any = None) -> tuple[int, bytes]:
    """One request to 127.0.0.1; the status and body, also for 4xx/5xx."""
    if urlsplit(url).hostname != HOST:
        raise BenchmarkError(f"refusing a request off this machine: {url}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def answers(url: str) -> bool:
    try:
        return http("GET", url)[0] == 200
    except OSError:
        return False


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return "(no output)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Ask politely, then kill after ``STOP_TIMEOUT_S``."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


# -- nginx ---------------------------------------------------------------------


def ensure_nginx() -> None:
    """Install Debian's nginx when it is missing and we are root; otherwise say how."""
    if NGINX.exists():
        return
    if os.geteuid() != 0:
        raise BenchmarkError("nginx is missing: run `make bench` or `apt-get install -y nginx`")
    print("installing nginx (apt-get) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "nginx"]):
        subprocess.run(command, check=True, env=env, timeout=600, stdout=subprocess.DEVNULL)


def nginx_config(prefix: Path, site: Path, port: int) -> str:
    """A private nginx: one worker, no access log except hits on /private/."""
    temp = prefix / "temp"
    return f"""\
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ text/html html; text/plain txt; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    open_file_cache max=10000;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen {HOST}:{port};
        server_name localhost;
        root {site};
        index index.html;
        location /private/ {{ access_log {prefix}/private.log; }}
    }}
}}
"""


@dataclass(frozen=True)
class Nginx:
    """A running private nginx: its base URL and the log of requests to /private/."""

    base_url: str
    private_log: Path

    def private_hits(self) -> int:
        """Requests to /private/ since the last call (the log is emptied each time)."""
        if not self.private_log.exists():
            return 0
        hits = len(self.private_log.read_text().splitlines())
        self.private_log.write_text("")  # nginx appends (O_APPEND), so truncating is safe
        return hits


@contextlib.contextmanager
def running_nginx(workdir: Path, site: Site) -> Iterator[Nginx]:
    """Serve ``site`` on a free port of 127.0.0.1 until the block ends."""
    prefix = workdir / "nginx"
    (prefix / "temp").mkdir(parents=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(prefix, site.root, port))
    log = prefix / "stderr.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(NGINX), "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "error.log")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    nginx = Nginx(base_url=f"http://{HOST}:{port}", private_log=prefix / "private.log")
    try:
        wait_until(
            lambda: process.poll() is not None or answers(nginx.base_url + "/robots.txt"),
            START_TIMEOUT_S,
            "nginx",
        )
        if process.poll() is not None:
            raise BenchmarkError(f"nginx exited:\n{tail(log)}\n{tail(prefix / 'error.log')}")
        yield nginx
    finally:
        stop_process(process, signal.SIGQUIT)  # graceful shutdown


# -- a crawl and its check -----------------------------------------------------


@dataclass(frozen=True)
class Crawl:
    """What both crawlers are asked to do."""

    base_url: str
    depth: int
    max_pages: int
    concurrency: int

    @property
    def timeout(self) -> float:
        """Generous: a crawl slower than 10 pages/s is broken, not slow."""
        return 60.0 + self.max_pages / 10


@dataclass(frozen=True)
class Run:
    """One measured crawl."""

    crawler: str
    label: str
    pages: int
    seconds: float

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds


def check_pages(crawler: str, urls: list[str], statuses: list[int], expected: set[str]) -> None:
    """Every expected page stored exactly once with status 200, and nothing else."""
    paths = [urlsplit(url).path or "/" for url in urls]
    problems = []
    if len(paths) != len(set(paths)):
        problems.append(f"{len(paths) - len(set(paths))} pages stored twice")
    if missing := expected - set(paths):
        problems.append(f"{len(missing)} pages missing, e.g. {sorted(missing)[:3]}")
    if extra := set(paths) - expected:
        problems.append(f"{len(extra)} unexpected pages, e.g. {sorted(extra)[:3]}")
    if bad := [status for status in statuses if status != 200]:
        problems.append(f"{len(bad)} pages with a status other than 200: {sorted(set(bad))}")
    if problems:
        raise BenchmarkError(f"{crawler} stored the wrong pages: " + "; ".join(problems))


# -- Scrapy --------------------------------------------------------------------


def scrapy_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Scrapy's settings for the benchmark: the shared limits, robots obeyed, no throttling."""
    return {
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": config["concurrency"],
        "CONCURRENT_REQUESTS_PER_DOMAIN": config["concurrency"],
        "DEPTH_LIMIT": config["depth"],
        # Scrapy counts the robots.txt response too; scrapejobs' maxPages counts stored pages.
        "CLOSESPIDER_PAGECOUNT": config["max_pages"] + 1,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        # Breadth-first, as scrapejobs crawls, so a depth limit means the same to both.
        "DEPTH_PRIORITY": 1,
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "FEEDS": {config["feed"]: {"format": "jsonlines", "overwrite": True}},
    }


def scrapy_child(config_path: Path) -> None:
    """In a fresh interpreter: run the spider, then write Scrapy's stats as JSON."""
    from scrapy import Request, Spider
    from scrapy.crawler import CrawlerProcess
    from scrapy.linkextractors import LinkExtractor

    config = json.loads(config_path.read_text())
    # The link extractor matches the netloc, port included; the offsite filter the host.
    extractor = LinkExtractor(allow_domains=[urlsplit(config["start_url"]).netloc])

    class SiteSpider(Spider):
        """Store every page as an item and follow its same-host links."""

        name = "bench"
        allowed_domains = (HOST,)

        # Unlike start_urls, filtered: the home page's own "/" link must not fetch it twice.
        async def start(self) -> AsyncIterator[Any]:
            yield Request(config["start_url"], callback=self.parse)

        def start_requests(self) -> Iterator[Any]:  # Scrapy < 2.13
            yield Request(config["start_url"], callback=self.parse)

        def parse(self, response: Any) -> Iterator[Any]:
            links = extractor.extract_links(response)
            yield {
                "url": response.url,
                "status": response.status,
                "title": response.css("title::text").get(),
                "text_length": len(response.xpath("normalize-space(//body)").get() or ""),
                "links": len(links),
            }
            for link in links:
                yield response.follow(link, callback=self.parse)

    process = CrawlerProcess(settings=scrapy_settings(config))
    crawler = process.create_crawler(SiteSpider)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    stats["elapsed_s"] = (stats["finish_time"] - stats["start_time"]).total_seconds()
    Path(config["stats"]).write_text(json.dumps(stats, default=str, indent=1))


def crawl_with_scrapy(
    crawl: Crawl, workdir: Path, label: str
) -> tuple[list[dict[str, Any]], float]:
    """Run the spider in a subprocess; its items and Scrapy's own elapsed seconds."""
    rundir = workdir / f"scrapy-{label}"
    rundir.mkdir()
    config = {
        "start_url": crawl.base_url + "/",
        "depth": crawl.depth,
        "max_pages": crawl.max_pages,
        "concurrency": crawl.concurrency,
        "feed": str(rundir / "items.jsonl"),
        "stats": str(rundir / "stats.json"),
    }
    config_path = rundir / "config.json"
    config_path.write_text(json.dumps(config))
    log = rundir / "scrapy.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--scrapy-child", str(config_path)]
    with log.open("wb") as out:
        try:
            done = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, timeout=crawl.timeout
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchmarkError(f"Scrapy did not finish in {crawl.timeout:.0f} s") from exc
    if done.returncode != 0 or not Path(config["stats"]).exists():
        raise BenchmarkError(f"Scrapy failed (exit {done.returncode}):\n{tail(log)}")
    stats = json.loads(Path(config["stats"]).read_text())
    if stats.get("log_count/ERROR"):
        raise BenchmarkError(f"Scrapy logged errors:\n{tail(log)}")
    lines = Path(config["feed"]).read_text().splitlines()
    return [json.loads(line) for line in lines], float(stats["elapsed_s"])


def run_scrapy(crawl: Crawl, workdir: Path, label: str, expected: set[str]) -> Run:
    items, seconds = crawl_with_scrapy(crawl, workdir, label)
    urls = [item["url"] for item in items]
    check_pages("Scrapy", urls, [item["status"] for item in items], expected)
    return Run("scrapy", label, len(items), seconds)


# -- scrapejobs ----------------------------------------------------------------


def scrapejobs_command() -> list[str]:
    script = Path(sys.executable).parent / "scrapejobs"
    return [str(script)] if script.exists() else [sys.executable, "-m", "scrapejobs"]


@contextlib.contextmanager
def running_scrapejobs(rundir: Path) -> Iterator[str]:
    """``scrapejobs serve`` with one embedded worker on a fresh SQLite file; yields its URL."""
    port = free_port()
    command = [
        *scrapejobs_command(),
        "serve",
        "--port",
        str(port),
        "--database-url",
        f"sqlite:///{rundir / 'bench.db'}",
        "--workers",
        "1",
        "--allow-private-networks",
    ]
    log = rundir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    api = f"http://{HOST}:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or answers(api + "/healthz"),
            START_TIMEOUT_S,
            "scrapejobs serve to answer /healthz",
        )
        if process.poll() is not None:
            raise BenchmarkError(serve_failure(command, log))
        yield api
    finally:
        stop_process(process, signal.SIGINT)


def serve_failure(command: list[str], log: Path) -> str:
    """Why ``scrapejobs serve`` exited before answering, as plainly as the log allows."""
    output = tail(log)
    if "No such option" in output and "--workers" in output:
        return "this scrapejobs has no `serve --workers` yet: the scrapejobs half cannot run"
    return f"`{shlex.join(command)}` exited before answering /healthz:\n{output}"


def api_data(method: str, url: str, body: Any = None) -> Any:
    """The ``data`` of an API envelope; a ``BenchmarkError`` on any failure."""
    status, raw = http(method, url, body)
    envelope = json.loads(raw) if raw else {}
    if status >= 400 or not envelope.get("success"):
        raise BenchmarkError(f"{method} {url} -> {status}: {raw[:500]!r}")
    return envelope["data"]


def parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def wait_for_job(api: str, job_id: str, timeout: float) -> dict[str, Any]:
    """Poll the job every 50 ms until it completes; fail loudly on any other end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = api_data("GET", f"{api}/api/scrape-jobs/{job_id}")
        if job["status"] == "completed":
            return job
        if job["status"] in ("failed", "cancelled") or job["retry_count"]:
            raise BenchmarkError(f"scrapejobs job {job['status']}: {job.get('error_message')}")
        time.sleep(POLL_INTERVAL_S)
    raise BenchmarkError(f"scrapejobs job not completed after {timeout:.0f} s")


def crawl_with_scrapejobs(crawl: Crawl, api: str) -> tuple[list[dict[str, Any]], float]:
    """One job through the public API; its stored pages and its own elapsed seconds."""
    body = {
        "domain": crawl.base_url,
        "max_retries": 0,  # a failed attempt stays failed, so the benchmark stops on it
        "config": {
            "depth": crawl.depth,
            "maxPages": crawl.max_pages,
            "maxConcurrentRequests": crawl.concurrency,
            "respectRobots": True,
        },
    }
    # The site's fleet-wide cap (default 8) as Scrapy's CONCURRENT_REQUESTS_PER_DOMAIN.
    site = urlsplit(crawl.base_url).netloc
    api_data("PATCH", f"{api}/api/domains/{site}", {"maxConcurrentRequests": crawl.concurrency})
    job_id = api_data("POST", f"{api}/api/scrape-jobs", body)["id"]
    job = wait_for_job(api, job_id, crawl.timeout)
    seconds = (
        parse_timestamp(job["completed_at"]) - parse_timestamp(job["started_at"])
    ).total_seconds()
    status, raw = http("GET", f"{api}/api/scrape-jobs/{job_id}/results?format=jsonl")
    if status != 200:
        raise BenchmarkError(f"results export -> {status}: {raw[:500]!r}")
    return [json.loads(line) for line in raw.splitlines() if line.strip()], seconds


def run_scrapejobs(crawl: Crawl, workdir: Path, label: str, expected: set[str]) -> Run:
    rundir = workdir / f"scrapejobs-{label}"
    rundir.mkdir()
    with running_scrapejobs(rundir) as api:
        pages, seconds = crawl_with_scrapejobs(crawl, api)
    check_pages("scrapejobs", [p["url"] for p in pages], [p["status"] for p in pages], expected)
    return Run("scrapejobs", label, len(pages), seconds)


# -- the benchmark -------------------------------------------------------------

RUNNERS: dict[str, Callable[[Crawl, Path, str, set[str]], Run]] = {
    "scrapejobs": run_scrapejobs,
    "scrapy": run_scrapy,
}


def schedule(crawlers: tuple[str, ...], rounds: int) -> list[tuple[str, str]]:
    """(crawler, label) in order: one warm-up of each, then alternating rounds."""
    warmups = [(crawler, "warm-up") for crawler in crawlers]
    timed = [(crawler, f"round-{n}") for n in range(1, rounds + 1) for crawler in crawlers]
    return warmups + timed


def run_all(
    crawl: Crawl, site: Site, nginx: Nginx, workdir: Path, args: argparse.Namespace
) -> list[Run]:
    """Every run of the schedule, each checked; returns the timed runs."""
    expected = site.expected_paths(crawl.depth)
    timed = []
    for crawler, label in schedule(args.crawlers, args.rounds):
        nginx.private_hits()
        run = RUNNERS[crawler](crawl, workdir, label, expected)
        if hits := nginx.private_hits():
            raise BenchmarkError(f"{crawler} fetched /private/ {hits} times despite robots.txt")
        print(
            f"  {label:>8}  {crawler:<10}  {run.pages:>6} pages  {run.seconds:>8.2f} s"
            f"  {run.pages_per_s:>8.1f} pages/s",
            flush=True,
        )
        if label != "warm-up":
            timed.append(run)
    return timed


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_facts() -> dict[str, str]:
    nginx = subprocess.run([str(NGINX), "-v"], capture_output=True, text=True, timeout=10)
    return {
        "CPU": f"{cpu_model()}, nproc {len(os.sched_getaffinity(0))}",
        "Python": platform.python_version(),
        "scrapejobs": version_of("scrapejobs"),
        "Scrapy": version_of("scrapy"),
        "Twisted": version_of("twisted"),
        "aiohttp": version_of("aiohttp"),
        "nginx": nginx.stderr.strip().removeprefix("nginx version: nginx/"),
    }


def medians(runs: list[Run]) -> dict[str, float]:
    crawlers = dict.fromkeys(run.crawler for run in runs)
    return {c: statistics.median(r.pages_per_s for r in runs if r.crawler == c) for c in crawlers}


def report(runs: list[Run], crawl: Crawl, site: Site) -> str:
    """The results as Markdown: setup, each run, medians, ratio, machine."""
    lines = [
        f"Site: {len(site.depths)} pages (+{len(site.private)} disallowed by robots.txt), "
        f"depth {site.max_depth}; crawl depth {crawl.depth}, max pages {crawl.max_pages}, "
        f"concurrency {crawl.concurrency}.",
        "",
        "| run | crawler | pages | seconds | pages/s |",
        "|---|---|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run.label} | {run.crawler} | {run.pages} | {run.seconds:.2f} "
            f"| {run.pages_per_s:.1f} |"
        )
    lines.append("")
    found = medians(runs)
    for crawler, value in found.items():
        lines.append(f"- median {crawler}: **{value:.1f} pages/s**")
    if len(found) == 2:
        ratio = found["scrapejobs"] / found["scrapy"]
        verdict = "met" if ratio >= TARGET_RATIO else "not met"
        lines.append(
            f"- ratio scrapejobs / Scrapy: **{ratio:.2f}x** (target {TARGET_RATIO:g}x: {verdict})"
        )
    lines.append("")
    lines.extend(f"- {name}: {value}" for name, value in machine_facts().items())
    return "\n".join(lines)


DOCS_INTRO = """\
# Benchmarks

Reproducible measurements of scrapejobs, each with the command that reruns it.

"""

SECTION_INTRO = """\
What is measured: `bench/crawl_vs_scrapy.py` generates a static site, serves
it with a private nginx on 127.0.0.1, and crawls it with scrapejobs (one job
through the HTTP API of `scrapejobs serve --workers 1`, SQLite) and with a
Scrapy spider, in alternating runs after one untimed warm-up of each. Both
obey robots.txt (a few linked `/private/` pages must not be fetched), use
the same depth and page limits and the same concurrency, and store every
page (scrapejobs in its database, Scrapy in a JSON-lines feed). pages/s is
stored pages over each crawler's own clock: the job's `started_at` to
`completed_at`, Scrapy's `start_time` to `finish_time`. Every run is
checked to have stored exactly the expected pages.

Rerun with `make bench` (installs nginx and the `bench` extra), or
`make bench BENCH_ARGS=--write-docs` to update this section.
"""


def update_docs(path: Path, results: str, command: str) -> None:
    """Replace (or add) this benchmark's section of ``path``, creating the file if needed."""
    text = path.read_text() if path.exists() else DOCS_INTRO
    today = datetime.now(UTC).date().isoformat()
    section = f"{DOCS_SECTION}\n\n{SECTION_INTRO}\nRun on {today}: `{command}`\n\n{results}\n"
    start = text.find(DOCS_SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(DOCS_SECTION))
        rest = "" if end < 0 else text[end:]
        text = text[:start] + section + rest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=3000, help="pages in the site (default 3000)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (16)")
    parser.add_argument("--depth", type=int, help="crawl depth (default: the site's depth)")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each crawler (3)")
    parser.add_argument("--only", choices=CRAWLERS, help="run one crawler only")
    parser.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    parser.add_argument("--write-docs", action="store_true", help=f"update {DOCS_FILE.name}")
    parser.add_argument("--docs-file", type=Path, default=DOCS_FILE, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--scrapy-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pages < 2 or args.concurrency < 1 or args.rounds < 1:
        parser.error("--pages must be at least 2, --concurrency and --rounds at least 1")
    args.crawlers = (args.only,) if args.only else CRAWLERS
    return args


def benchmark(args: argparse.Namespace, workdir: Path) -> str:
    """Generate, serve, crawl; returns the report."""
    started = time.monotonic()
    site = write_site(workdir / "site", args.pages, args.seed)
    workdir.chmod(0o755)  # nginx workers may run as another user
    print(
        f"site: {len(site.depths)} pages, depth {site.max_depth}, in {workdir} "
        f"({time.monotonic() - started:.1f} s)",
        flush=True,
    )
    ensure_nginx()
    with running_nginx(workdir, site) as nginx:
        depth = site.max_depth if args.depth is None else args.depth
        crawl = Crawl(nginx.base_url, depth, args.pages, args.concurrency)
        runs = run_all(crawl, site, nginx, workdir, args)
    return report(runs, crawl, site)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scrapy_child:
        scrapy_child(args.scrapy_child)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="scrapejobs-bench-"))
    try:
        results = benchmark(args, workdir)
    except BenchmarkError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n" + results)
    if args.write_docs:
        command = shlex.join(["python", "bench/crawl_vs_scrapy.py", *sys.argv[1:]])
        update_docs(args.docs_file, results, command)
        print(f"\nwrote {args.docs_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
