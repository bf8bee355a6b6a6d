"""Fixtures for the operator CLI's unit tests: the route table on disk (shared with tests/unit/proxy)."""
from tests.unit.route_table_fixtures import ledger_file, routes_file, table_text, var_dir  # noqa: F401 - pytest fixtures
