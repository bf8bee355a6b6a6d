"""The façade resolves the flip gates its launcher names (option strangler_gates, else $STRANGLER_GATES) and
hands them to its state: admin-API flips face the same gates as `strangler flip` while proxy/ never imports
the CLI, and nothing is registered process-wide."""
from __future__ import annotations

import importlib
import sys
import types

import pytest
from mitmproxy import exceptions, hooks
from mitmproxy.test import taddons

from proxy.addons.gates import Gates
from proxy.addons.state import FacadeState
from strangler.gates import SPEC


def configure(tctx, **options) -> Gates:
    gates = Gates(FacadeState())
    tctx.master.addons.register(gates)
    for name, value in options.items():
        tctx.options.update(**{name: value})
    tctx.master.addons.invoke_addon_sync(gates, hooks.ConfigureHook({"strangler_gates"}))
    return gates


@pytest.fixture
def fake_gate(monkeypatch):
    module = types.ModuleType("fake_gate_module")
    module.refuse = lambda table, feature, to_state: [f"{feature}: not yet ({to_state})"]
    monkeypatch.setitem(sys.modules, "fake_gate_module", module)


def test_gates_from_the_environment_are_registered_and_imported_on_first_use(fake_gate, monkeypatch):
    monkeypatch.setenv("STRANGLER_GATES", "later=fake_gate_module:refuse")
    with taddons.context() as tctx:
        addon = configure(tctx)
    (gate,) = addon.state.gates
    assert gate(None, "beds", "new") == ["beds: not yet (new)"]


def test_the_option_wins_over_the_environment(fake_gate, monkeypatch):
    monkeypatch.setenv("STRANGLER_GATES", "")
    with taddons.context() as tctx:
        addon = configure(tctx, strangler_gates="a=fake_gate_module:refuse,b=fake_gate_module:refuse")
    assert len(addon.state.gates) == 2


def test_a_malformed_entry_stops_start_up_with_the_fix(fake_gate):
    with taddons.context() as tctx, pytest.raises(exceptions.OptionsError, match=r"NAME=module:function\. Fix"):
        configure(tctx, strangler_gates="strangler.footprint.gate.footprint_gate")


def test_the_kit_gates_spec_names_importable_gates(fake_gate, monkeypatch):
    """What `strangler up` hands every process: both kit gates, each resolving to a real function."""
    monkeypatch.setenv("STRANGLER_GATES", SPEC)
    with taddons.context() as tctx:
        addon = configure(tctx)
    names = {g.__qualname__ for g in addon.state.gates}
    assert names == {"strangler.footprint.gate.footprint_gate", "strangler.migrate.gate.ownership_gate",
                     "strangler.promote.promote_gate"}
    for qualname in names:
        module, _, function = qualname.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function))


def test_two_facades_in_one_process_keep_their_own_gates(fake_gate):
    """No process-wide registry: each façade's state holds only the gates its own option names."""
    with taddons.context() as tctx:
        one = configure(tctx, strangler_gates="a=fake_gate_module:refuse")
    with taddons.context() as tctx:
        two = configure(tctx, strangler_gates="a=fake_gate_module:refuse,b=fake_gate_module:refuse")
    assert (len(one.state.gates), len(two.state.gates)) == (1, 2)
