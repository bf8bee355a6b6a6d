"""The real `strangler` entry point imports only the module a command needs: every command must still parse,
including modules that define a single command (Typer would otherwise treat that command as the whole app)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from strangler.cli import EXTRA, MODULES, OWNER, modules_for

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_has_an_owner_module_and_unknown_ones_load_everything() -> None:
    assert set(OWNER.values()) | {m for ms in EXTRA.values() for m in ms} <= set(MODULES)
    assert modules_for(["--help"]) == MODULES and modules_for(["nonsense"]) == MODULES
    assert modules_for(["flip", "catalog", "--to", "new"]) == ("routes",)
    assert modules_for(["--project", "some/dir", "flip", "x"]) == ("routes",)
    assert modules_for(["--project=some/dir", "up"]) == ("stack",)


@pytest.mark.parametrize("command", ["demo", "load", "url", "flip", "migrate", "status", "tls"])
def test_command_parses_through_the_real_entry_point(command: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "strangler", command, "--help"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, env={"STRANGLER_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"strangler {command}" in result.stdout
