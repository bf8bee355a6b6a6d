"""docs/own-monolith.md, run verbatim in an empty folder outside the kit, against the greenhouse fixture
(tests/fixtures/greenhouse, a Flask monolith) and its plants service (tests/fixtures/greenhouse_plants).

The same runner as migration_plan.md (strangler.walkthrough). What the test provides is what a user's
machine provides: KIT (their checkout, for the example apps), APP_PYTHON (the apps' virtualenv; here the
test interpreter, which has Flask, FastAPI and strangler_app), free ports (STRANGLER_PORT_*,
STRANGLER_ADMIN_PORT) and `strangler` on PATH (the guide's `sh` install block is not run: installing the
kit as a tool has its own test). The stack is always torn down where the guide left its shell."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from strangler.procs import free_port, port_in_use
from strangler.walkthrough import run_walkthrough

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "own-monolith.md"
PROCESSES = ("legacy", "plants", "facade")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# Variables that would change what the guide does if they leaked in from the developer's shell.
_CLEARED = ("STRANGLER_PROJECT", "STRANGLER_VAR_DIR", "STRANGLER_ROUTES_FILE", "STRANGLER_STACK_FILE",
            "STRANGLER_LOAD_MIX", "STRANGLER_PARITY_STORE", "STRANGLER_STORE_URL", "STRANGLER_SQL_CAPTURE",
            "STRANGLER_SHADOW_KEY", "STRANGLER_ADMIN_TOKEN", "STRANGLER_ROUTES_TEMPLATE", "GREENHOUSE_DB_URL",
            "PLANTS_DATABASE_URL", "PYTHONPATH")


def test_own_monolith_guide_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    assert not work.resolve().is_relative_to(ROOT), "the guide must start outside the kit checkout"
    env = {"KIT": str(ROOT), "APP_PYTHON": sys.executable, "STRANGLER_ACTOR": "e2e",
           "STRANGLER_ADMIN_PORT": str(free_port()),
           **{f"STRANGLER_PORT_{name.upper()}": str(free_port()) for name in PROCESSES}}
    transcript = tmp_path / "transcript.log"
    result = run_walkthrough(DOCUMENT, root=work, env=env, transcript=transcript)
    print(f"\nown-monolith guide: {len(result.steps)}/{result.total_steps} blocks in {result.seconds:.1f} s wall time "
          f"(transcript {transcript})")

    report = result.failure_report()
    assert not report, report
    assert len(result.steps) == result.total_steps >= 8

    assert "stopped" in result.teardown or "Nothing is running" in result.teardown, result.teardown
    busy = [f"{k}={v}" for k, v in env.items() if k.startswith("STRANGLER_PORT_") and port_in_use(int(v), "127.0.0.1")]
    assert not busy, f"ports still in use after teardown: {busy}"

    # Everything the guide made lives in the user's folder, nothing in the kit's: the fix edited the copy.
    projects = [p.parent for p in work.glob("*/strangler.yaml")]
    assert len(projects) == 1, projects
    kit_schema = ROOT / "tests" / "fixtures" / "greenhouse_plants" / "plants_service" / "schemas.py"
    assert "heightCm: Decimal" in kit_schema.read_text() and not kit_schema.with_suffix(".py.orig").exists()
    assert "heightCm: float" in (work / "plants-service" / "plants_service" / "schemas.py").read_text()
    assert not (ROOT / "tests" / "fixtures" / "greenhouse" / "greenhouse.db").exists()
    ledger = [json.loads(line) for line in (projects[0] / "var" / "ledger.jsonl").read_text().splitlines() if line]
    plants = [r for r in ledger if r.get("feature") == "plants"]
    moves = [(r["from_state"], r["to_state"]) for r in plants if r.get("from_state") != r.get("to_state")]
    assert moves == [("legacy", "shadow"), ("shadow", "canary")], moves
    ignored = [f for r in plants if r.get("evidence", {}).get("action") == "parity.ignore.add"
               for f in r["evidence"]["added"]]
    assert "$.meta.requestId" in ignored and "$.data.heightCm" not in ignored, ignored
