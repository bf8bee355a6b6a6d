"""Fixtures for the nginx export integration tests (the stack itself lives in export_stack.py)."""
from export_stack import nginx_stack  # noqa: F401
