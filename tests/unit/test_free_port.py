"""strangler.procs.free_port picks listening ports outside the ephemeral range, where no outgoing connection
can take them between the choice and the bind (the "address already in use" seen under four test workers)."""
from __future__ import annotations

import socket

from strangler.procs import _ephemeral_range, free_port


def test_ports_are_free_and_outside_the_ephemeral_range() -> None:
    low, high = _ephemeral_range()
    for _ in range(20):  # bounded
        port = free_port()
        assert not low <= port <= high
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # really free
