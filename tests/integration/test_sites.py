"""The site scenarios of ``tests/unit/test_sites.py``, run on SQLite and PostgreSQL."""

from tests.unit.test_sites import *  # noqa: F403
