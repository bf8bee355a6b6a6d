"""Suite-wide settings: every test gets its own var/ directory so runs never share runtime files; the test
process builds httpx's default SSL context once."""
from __future__ import annotations

import fcntl
import os
import ssl
from pathlib import Path

import httpx._transports.default as httpx_transports
import pytest


def _share_httpx_default_ssl_context() -> None:
    """Every httpx.get/post builds a Client whose transport loads certifi's CA bundle into a new SSLContext:
    60-90 ms of CPU per call here, paid by every one of the tests' own HTTP calls to loopback servers (plain
    http, where the context is never used) and by their polling loops. The default context (verify=True, no
    client cert) is built once per CA setting and shared (the same context each call would build); every
    other verify/cert value still gets its own. Only the pytest process: the servers and CLIs a test starts
    build theirs."""
    build = httpx_transports.create_ssl_context
    shared: dict[tuple[str | None, str | None], ssl.SSLContext] = {}

    def create_ssl_context(verify: object = True, cert: object = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is not True or cert is not None or not trust_env:
            return build(verify=verify, cert=cert, trust_env=trust_env)
        key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        if key not in shared:
            shared[key] = build(verify=verify, cert=cert, trust_env=trust_env)
        return shared[key]

    httpx_transports.create_ssl_context = create_ssl_context


_share_httpx_default_ssl_context()


def pytest_configure(config: pytest.Config) -> None:
    """Each parallel worker (pytest-xdist) chooses listening ports from its own slice of the range, so no
    worker can take a port another chose but whose server has not bound it yet (mitmdump takes seconds to
    start). Set in the environment, so the CLIs and stacks a test starts inherit it."""
    from strangler.procs import LISTEN_PORTS, PORT_RANGE_ENV

    worker = getattr(config, "workerinput", None)
    if worker is None or os.environ.get(PORT_RANGE_ENV):
        return
    index, count = int(worker["workerid"].removeprefix("gw")), int(worker["workercount"])
    size = (LISTEN_PORTS[1] - LISTEN_PORTS[0] + 1) // count
    low = LISTEN_PORTS[0] + index * size
    os.environ[PORT_RANGE_ENV] = f"{low}-{low + size - 1}"


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
