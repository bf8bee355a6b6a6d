"""Suite-wide settings: every test gets its own var/ directory so runs never share runtime files."""
from __future__ import annotations

import fcntl
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _mitmproxy_ca() -> None:
    """mitmdump creates its CA in ~/.mitmproxy on its first start; with tests running in parallel workers
    (pytest -n 2) two façades could create it at once on a fresh machine. Create it once, under a lock."""
    from mitmproxy.certs import CertStore
    from mitmproxy.options import CONF_BASENAME

    confdir = Path("~/.mitmproxy").expanduser()
    confdir.mkdir(parents=True, exist_ok=True)
    with open(confdir / ".strangler-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        CertStore.from_store(confdir, CONF_BASENAME, 2048)


@pytest.fixture(autouse=True)
def _isolated_var_dir(tmp_path_factory, monkeypatch):
    """Point STRANGLER_VAR_DIR at a fresh directory (settings are built per command, never cached)."""
    var_dir = tmp_path_factory.mktemp("var")
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(var_dir))
    monkeypatch.delenv("STRANGLER_PROJECT", raising=False)
    return var_dir
