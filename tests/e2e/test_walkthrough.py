"""migration_plan.md, run verbatim on free ports with a small seed: every step's evidence must hold.

The same runner as `strangler demo` (strangler.walkthrough); only the environment differs: free ports
(STRANGLER_PORT_*), a temporary var dir, a small seed and shorter load runs (WALKTHROUGH_LOAD_TIME, which
the document itself reads). The stack is always torn down, and the test checks that it was."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from strangler.procs import free_port, port_in_use
from strangler.stack import load_stack, port_env_name
from strangler.walkthrough import run_walkthrough

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "migration_plan.md"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

# Variables that would change what the document does if they leaked in from the developer's shell.
_CLEARED = ("CATALOG_LEGACY_TZ", "STRANGLER_SQL_CAPTURE", "STRANGLER_ROUTES_FILE", "STRANGLER_LOAD_MIX",
            "STRANGLER_STACK_FILE", "STRANGLER_PARITY_STORE", "STRANGLER_STORE_URL", "LEGACY_DATABASE_URL",
            "CATALOG_DATABASE_URL", "ORDERS_DATABASE_URL", "LEGACY_TZ", "STRANGLER_SHADOW_KEY",
            "STRANGLER_ADMIN_TOKEN")


def _small_mix(path: Path) -> Path:
    """config/load-mix.yaml with its id ranges scaled to the small seed (else most writes would be 422s)."""
    text = (ROOT / "config" / "load-mix.yaml").read_text(encoding="utf-8")
    for full, small in (("[1, 20000]", "[1, 1000]"), ("[1, 2000]", "[1, 200]"), ("[1, 1000]", "[1, 100]")):
        text = text.replace(full, small)
    path.write_text(text, encoding="utf-8")
    return path


def _environment(var_dir: Path) -> dict[str, str]:
    env = {"STRANGLER_LOAD_MIX": str(_small_mix(var_dir.parent / "load-mix.yaml")),
           "STRANGLER_VAR_DIR": str(var_dir), "STRANGLER_ACTOR": "e2e",
           "LEGACY_SEED_PRODUCTS": "200", "LEGACY_SEED_CUSTOMERS": "100", "LEGACY_SEED_ORDERS": "1000",
           "WALKTHROUGH_LOAD_TIME": "4s", "STRANGLER_ADMIN_PORT": str(free_port())}
    for name in load_stack(ROOT / "config" / "stack.yaml").config.processes:
        env[port_env_name(name)] = str(free_port())
    return env


def test_migration_plan_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    var_dir = tmp_path / "var"
    env = _environment(var_dir)
    transcript = tmp_path / "transcript.log"
    result = run_walkthrough(DOCUMENT, root=ROOT, env=env, transcript=transcript)

    failed = [s for s in result.steps if not s.ok]
    report = "\n".join(f"step {s.step.number} ({s.step.title}, line {s.step.line}): {'; '.join(s.problems)}\n"
                       + "\n".join("  | " + line for line in s.output.rstrip().splitlines()[-30:])
                       for s in failed)
    assert not failed, report
    assert len(result.steps) == result.total_steps >= 10

    # Torn down: no supervisor state left, and every port the stack used is free again.
    assert "stopped" in result.teardown or "Nothing is running" in result.teardown, result.teardown
    busy = [f"{k}={v}" for k, v in env.items() if k.startswith("STRANGLER_PORT_") and port_in_use(int(v), "127.0.0.1")]
    assert not busy, f"ports still in use after teardown: {busy}"

    # The ledger tells the whole story, in order, for both features.
    flips = [json.loads(line) for line in (var_dir / "ledger.jsonl").read_text().splitlines() if line.strip()]
    handovers = [(r["feature"], r["to_writes_owner"]) for r in flips
                 if r.get("from_writes_owner") != r.get("to_writes_owner")]  # writes_owner flips (handover)
    assert handovers == [("catalog", "service"), ("orders", "service")], handovers
    moves = [r for r in flips if r.get("from_writes_owner") == r.get("to_writes_owner")]
    path = {f: [r["to_state"] for r in moves if r.get("feature") == f and r.get("to_state")]
            for f in ("catalog", "orders")}
    assert path["catalog"][-4:] == ["canary", "canary", "new", "retired"], path
    assert path["orders"][-3:] == ["shadow", "canary", "new"], path
    ownership = json.loads((var_dir / "ownership.json").read_text())["features"]
    assert ownership["catalog"]["writes_owner"] == ownership["orders"]["writes_owner"] == "service"
