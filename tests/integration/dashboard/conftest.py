"""Fixtures for the dashboard integration tests (the stack lives in dashboard_stack.py)."""
from dashboard_stack import dash  # noqa: F401 - pytest fixture
