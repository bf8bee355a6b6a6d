"""The façade: run with

    mitmdump --mode reverse:http://LEGACY_HOST:PORT@LISTEN_PORT --set connection_strategy=lazy \
        --set keep_host_header=true -s proxy/facade.py --set strangler_routes=config/routes.yaml \
        [--set strangler_admin_port=8081] [--set strangler_access_log=var/logs/access.jsonl] \
        [--set strangler_gates=NAME=module:function,…]   # default $STRANGLER_GATES (set by `strangler up`)

Addon order matters: the guard refuses before routing, the router addresses the request, the upstream guard
tracks it, telemetry records last. Other parts (e.g. shadow/parity) append their addons after the router.
"""
from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # loaded by path via `mitmdump -s proxy/facade.py`
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)

from proxy.addons.admin_server import AdminServer
from proxy.addons.gates import Gates
from proxy.addons.guard import Guard
from proxy.addons.identity import Identity
from proxy.addons.pipeline import Pipeline
from proxy.addons.record import Record
from proxy.addons.rollback import Rollback
from proxy.addons.routing import Router
from proxy.addons.shadow import Shadow
from proxy.addons.startup import CertStoreFirst
from proxy.addons.state import FacadeState
from proxy.addons.telemetry import Telemetry
from proxy.addons.upstream import UpstreamGuard
from proxy.history.recorder import HistoryRecorder


def build_addons() -> list:
    state = FacadeState()
    shadow = Shadow(state)  # after the router: acts on its decision (copy + compare, never on the client path)
    # Gates: the flip gates the launcher names (admin-API flips face the same gates as `strangler flip`)
    telemetry = Telemetry(state)  # its no-answer count feeds the history (written every 10 s, off the client path)
    return [CertStoreFirst(),  # before anything can answer: mitmproxy's CA store is loaded late (its docstring)
            Gates(state), Pipeline(state, Guard(state), Router(state), Identity(state), UpstreamGuard(state),
                                   telemetry, AdminServer(state), shadow, Record(state), Rollback(state, shadow),
                                   HistoryRecorder(state, telemetry.no_answer))]


addons = build_addons()
