"""One immutable compiled view of the route table: what every request reads, swapped whole on reload.

A request takes `state.current` once and uses only that object, so it sees one whole table even while a
reload swaps in the next one. Breakers live across reloads (their state is about the upstream process, not
the file): an upstream that keeps its name and URL keeps its breaker, with the new thresholds.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from proxy.breaker import Breaker
from proxy.matcher import Matcher
from proxy.table import RouteTable


@dataclass(frozen=True, slots=True)
class UpstreamAddress:
    scheme: str
    host: str
    port: int
    host_header: str  # what the upstream sees as Host

    @property
    def scheme_b(self) -> bytes:
        return self.scheme.encode()


@dataclass(frozen=True, slots=True)
class Snapshot:
    table: RouteTable
    matcher: Matcher
    breakers: Mapping[str, Breaker]
    addresses: Mapping[str, UpstreamAddress]
    allowed: frozenset[tuple[str, int]]  # (host, port) the façade may ever connect to
    digest: str
    version: int
    loaded_at: float


def compile_snapshot(table: RouteTable, digest: str, previous: Snapshot | None = None) -> Snapshot:
    breakers: dict[str, Breaker] = {}
    addresses: dict[str, UpstreamAddress] = {}
    for name, up in table.upstreams.items():
        default_port = 443 if up.scheme == "https" else 80
        host_header = up.host if up.port == default_port else f"{_bracket(up.host)}:{up.port}"
        addresses[name] = UpstreamAddress(up.scheme, up.host, up.port, host_header)
        old = previous.breakers.get(name) if previous else None
        if old is not None and previous is not None and previous.table.upstreams[name].url == up.url:
            old.config = up.breaker
            breakers[name] = old
        else:
            breakers[name] = Breaker(up.breaker)
    allowed = frozenset((a.host.lower(), a.port) for a in addresses.values())
    return Snapshot(table=table, matcher=Matcher(table), breakers=MappingProxyType(breakers),
                    addresses=MappingProxyType(addresses), allowed=allowed, digest=digest,
                    version=(previous.version + 1) if previous else 1, loaded_at=time.time())


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
