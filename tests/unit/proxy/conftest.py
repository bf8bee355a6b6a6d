"""Fixtures for the façade's unit tests (helpers live in facade_harness.py)."""
from facade_harness import facade, routes  # noqa: F401 - pytest fixtures
