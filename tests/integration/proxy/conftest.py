"""Fixtures for the façade's integration tests (the stack itself lives in facade_stack.py)."""
from facade_stack import stack  # noqa: F401
