"""Fixtures for the dashboard integration tests (the stack lives in dashboard_stack.py, the browser in
browser_kit.py)."""
from browser_kit import browser  # noqa: F401 - pytest fixture
from dashboard_stack import dash  # noqa: F401 - pytest fixture
