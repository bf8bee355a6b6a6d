"""The real `strangler` process applies the kit's flip gates (the footprint gate here) and records --force.

Evidence comes from a real `strangler analyze` of statements tagged with their module: catalog writes PRODUCTS,
which nothing has backfilled to the catalog service yet."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def strangler(*args: str, var_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "strangler", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={"STRANGLER_VAR_DIR": str(var_dir), "PATH": "/usr/bin:/bin"})


@pytest.mark.integration
def test_flip_to_new_is_gated_by_the_footprint_until_forced(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    shutil.copy(ROOT / "config" / "routes.yaml", routes)
    var_dir = tmp_path / "var"
    statements = tmp_path / "captured.sql"
    statements.write_text("-- module: catalog\nUPDATE PRODUCTS SET PROD_NM = 'x' WHERE PROD_ID = 1;\n"
                          "-- module: orders\nSELECT UNIT_PRC FROM PRODUCTS WHERE PROD_ID = 1;\n")
    analysed = strangler("analyze", "run", str(statements), "--config", str(ROOT / "config" / "footprint.yaml"),
                         var_dir=var_dir)
    assert analysed.returncode == 0, analysed.stdout + analysed.stderr

    refused = strangler("flip", "catalog", "--to", "new", "--routes", str(routes), var_dir=var_dir)
    assert refused.returncode == 1
    assert "catalog writes PRODUCTS" in refused.stdout + refused.stderr
    assert "state: legacy" in routes.read_text().split("catalog:", 2)[-1]

    forced = strangler("flip", "catalog", "--to", "new", "--routes", str(routes), "--force", "--reason", "test",
                       var_dir=var_dir)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    record = json.loads((var_dir / "ledger.jsonl").read_text().splitlines()[-1])
    assert record["forced"] is True and record["to_state"] == "new"
    assert any("catalog writes PRODUCTS" in reason for reason in record["evidence"]["overridden"])
