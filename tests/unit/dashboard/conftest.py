"""Fixtures for the dashboard unit tests (they live in dashboard_harness.py)."""
from dashboard_harness import client, facade, routes, sessions  # noqa: F401 - pytest fixtures
