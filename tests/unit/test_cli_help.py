"""Help shows flags as flags: `--force`, never `--force <bool>` (typer 0.29 typed every flag; fixed in
strangler/cli/app.py)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv", [["routes", "init", "--help"], ["flip", "--help"], ["--help"]])
def test_flags_show_no_value_type(argv: list[str], tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "strangler", *argv], capture_output=True, text=True, cwd=ROOT,
                            timeout=60, env={"STRANGLER_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
                                             "COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    assert "--help" in result.stdout and "<bool>" not in result.stdout
    if argv[0] == "flip":
        assert re.search(r"--force\s+Override", result.stdout)  # the flag, then straight its help
        assert re.search(r"--percent\s+<float>", result.stdout)  # options that take a value keep their type
