"""Fixtures for the façade's unit tests (helpers live in facade_harness.py)."""
from facade_harness import facade, routes  # noqa: F401 - pytest fixtures

from tests.unit.route_table_fixtures import ledger_file, routes_file, table_text, var_dir  # noqa: F401 - pytest fixtures
