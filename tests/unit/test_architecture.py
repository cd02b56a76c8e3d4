"""The dependency rule of STYLE.md, checked by walking imports with ``ast``.

The domain (jobs, events, failures, retry, transitions, queries, the store
port) imports no adapter and no I/O library; only ``scrapejobs/storage/``
knows SQLAlchemy and Alembic; the adapters (``web``, ``console``, ``crawler``,
``worker``) reach storage only through the manager. No module is over 400
lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "scrapejobs"
DOMAIN_MODULES = [
    "jobs.py",
    "events.py",
    "failures.py",
    "retry.py",
    "transitions.py",
    "leases.py",
    "queries.py",
    "store.py",
    "sites.py",
    "limits.py",
    "blocks.py",
    "activity.py",
]
ADAPTERS = ["web", "console", "crawler", "worker.py"]
MAX_MODULE_LINES = 400
FORBIDDEN_IN_DOMAIN = [
    "scrapejobs.storage",
    "scrapejobs.web",
    "scrapejobs.manager",
    "scrapejobs.cli",
    "scrapejobs.worker",
    "scrapejobs.crawler",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "aiohttp",
    "httpx",
    "asyncpg",
    "aiosqlite",
]
STORAGE_ONLY = ["sqlalchemy", "alembic"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Every module the file at ``path`` imports."""
    source = path.read_text(encoding="utf-8")
    return imports_in(source, module_name(path), is_package=path.name == "__init__.py")


def imports_in(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports, anywhere in it, relative imports resolved."""
    tree = ast.parse(source)
    package = module.split(".")
    if not is_package:
        package.pop()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            found.add(stem)
            # "from scrapejobs import storage" imports scrapejobs.storage.
            found.update(f"{stem}.{alias.name}" for alias in node.names)
    return found


def is_within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_package_sources_are_where_expected() -> None:
    for name in DOMAIN_MODULES:
        assert (PACKAGE / name).is_file()
    assert (PACKAGE / "storage").is_dir()


WALKER_SAMPLE = """
import os.path
from typing import TYPE_CHECKING
from . import storage
from .web.app import create_app
from ..other import thing

if TYPE_CHECKING:
    import sqlalchemy

def later():
    from scrapejobs.crawler import fetch
    import httpx as client
"""


def test_import_walker_sees_every_kind_of_import() -> None:
    found = imports_in(WALKER_SAMPLE, "scrapejobs.sub.mod")
    for expected in [
        "os.path",
        "typing",
        "scrapejobs.sub.storage",
        "scrapejobs.sub.web.app",
        "scrapejobs.other.thing",
        "sqlalchemy",
        "scrapejobs.crawler",
        "httpx",
    ]:
        assert expected in found
    assert "scrapejobs.storage" in imports_in("from . import storage", "scrapejobs.jobs")
    assert "scrapejobs.web" in imports_in("from .web import app", "scrapejobs.jobs")


def test_import_walker_reads_the_real_modules() -> None:
    assert {"scrapejobs.failures", "scrapejobs.jobs"} <= imported_modules(PACKAGE / "retry.py")


@pytest.mark.parametrize("name", DOMAIN_MODULES)
@pytest.mark.parametrize("forbidden", FORBIDDEN_IN_DOMAIN)
def test_domain_does_not_import_adapters_or_io(name: str, forbidden: str) -> None:
    offenders = {m for m in imported_modules(PACKAGE / name) if is_within(m, forbidden)}
    assert not offenders, f"{name} imports {sorted(offenders)}"


@pytest.mark.parametrize("library", STORAGE_ONLY)
def test_only_storage_imports_the_database_libraries(library: str) -> None:
    storage = PACKAGE / "storage"
    offenders = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if storage not in path.parents
        and any(is_within(m, library) for m in imported_modules(path))
    )
    assert not offenders, f"{library} imported outside scrapejobs/storage/: {offenders}"


def test_storage_is_where_the_database_libraries_are_used() -> None:
    # Guards the test above against passing because it scanned nothing.
    storage_imports = set().union(
        *(imported_modules(path) for path in (PACKAGE / "storage").rglob("*.py"))
    )
    assert any(is_within(m, "sqlalchemy") for m in storage_imports)


def _sources(entry: str) -> list[Path]:
    path = PACKAGE / entry
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_adapters_do_not_import_storage(adapter: str) -> None:
    sources = _sources(adapter)
    assert sources, f"{adapter} not found"
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            m for m in imported_modules(path) if is_within(m, "scrapejobs.storage")
        )
        for path in sources
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_storage_rule_sees_a_storage_import() -> None:
    found = imports_in("from scrapejobs.storage.store import SqlStore", "scrapejobs.web.x")
    assert any(is_within(m, "scrapejobs.storage") for m in found)


def test_no_module_is_over_400_lines() -> None:
    lengths = {
        str(path.relative_to(PACKAGE)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert len(lengths) > 50  # the walk found the package
    assert {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES} == {}
