"""The fenced leases of ``tests/unit/test_leases.py``, run on SQLite and PostgreSQL."""

from tests.unit.test_leases import *  # noqa: F403
