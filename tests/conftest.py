"""Suite-wide settings: every test gets its own var/ directory so runs never share runtime files."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_var_dir(tmp_path_factory, monkeypatch):
    """Point STRANGLER_VAR_DIR at a fresh directory and forget cached settings."""
    from strangler.settings import get_settings

    var_dir = tmp_path_factory.mktemp("var")
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(var_dir))
    get_settings.cache_clear()
    yield var_dir
    get_settings.cache_clear()
