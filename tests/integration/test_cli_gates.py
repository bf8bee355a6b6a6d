"""The real `strangler` process applies the kit's flip gates (the footprint gate here) and records --force."""
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

    refused = strangler("flip", "catalog", "--to", "new", "--routes", str(routes), var_dir=var_dir)
    assert refused.returncode == 1
    assert "strangler analyze" in refused.stdout + refused.stderr
    assert "state: legacy" in routes.read_text().split("catalog:", 2)[-1]

    forced = strangler("flip", "catalog", "--to", "new", "--routes", str(routes), "--force", "--reason", "test",
                       var_dir=var_dir)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    record = json.loads((var_dir / "ledger.jsonl").read_text().splitlines()[-1])
    assert record["forced"] is True and record["to_state"] == "new"
    assert any("strangler analyze" in reason for reason in record["evidence"]["overridden"])
