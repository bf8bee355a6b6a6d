"""strangler.procs.free_port picks listening ports outside the ephemeral range, where no outgoing connection
can take them between the choice and the bind (the "address already in use" seen under four test workers)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from strangler import procs
from strangler.procs import LISTEN_PORTS, PORT_RANGE_ENV, PortRangeError, _ephemeral_range, free_port, listen_ports


def test_ports_are_free_and_outside_the_ephemeral_range() -> None:
    low, high = _ephemeral_range()
    for _ in range(20):  # bounded
        port = free_port()
        assert not low <= port <= high
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # really free


def test_a_port_is_never_chosen_twice_by_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a range of 40 ports, 40 choices are 40 different ports: the old code could hand a façade the port it
    had just given its legacy (both still unbound), and mitmdump then failed with "address already in use"."""
    monkeypatch.delenv(PORT_RANGE_ENV, raising=False)
    monkeypatch.setattr(procs, "LISTEN_PORTS", (20000, 20039))
    monkeypatch.setattr(procs, "_handed_out", set(), raising=False)
    chosen = [free_port() for _ in range(30)]  # bounded; most of the slice, so a repeat would be likely
    assert len(set(chosen)) == len(chosen)
    assert all(20000 <= port <= 20039 for port in chosen)


def test_the_range_comes_from_the_environment_and_a_bad_one_says_how_to_fix_it() -> None:
    """STRANGLER_PORT_RANGE reaches the processes a test or `strangler up` starts, where a setting in the
    test process would not."""
    assert listen_ports({}) == LISTEN_PORTS
    assert listen_ports({PORT_RANGE_ENV: "15000-15999"}) == (15000, 15999)
    for bad in ("15000", "a-b", "900-2000", "2000-1000", "15000-70000"):
        with pytest.raises(PortRangeError, match=r"not a port range\. Fix: write it as LOW-HIGH"):
            listen_ports({PORT_RANGE_ENV: bad})


def test_the_cli_reports_a_bad_range_in_one_line(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "strangler", "init", "--legacy", "python app.py {port}",
                           str(tmp_path / "proj")], env={**os.environ, PORT_RANGE_ENV: "nope"},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: STRANGLER_PORT_RANGE='nope' is not a port range. Fix: write it as LOW-HIGH with "
        "1024 <= LOW < HIGH <= 65535, e.g. 10000-32767, or unset it."]


def test_each_test_worker_has_its_own_slice() -> None:
    """tests/conftest.py gives every xdist worker a disjoint slice (the collision behind a CI failure)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        pytest.skip("runs under pytest-xdist workers only")
    low, high = listen_ports()
    count = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    index = int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw"))
    size = (LISTEN_PORTS[1] - LISTEN_PORTS[0] + 1) // count
    assert (low, high) == (LISTEN_PORTS[0] + index * size, LISTEN_PORTS[0] + (index + 1) * size - 1)
