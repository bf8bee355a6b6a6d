"""Issue 17's first two defects, as a user meets them: the installed `strangler` command in a real process.

- `strangler routes init` copied the demo's config/routes.yaml relative to the current directory, so from
  anywhere else it failed with "no template at config/routes.yaml": now it copies the project's template from
  any folder inside the project, and outside any project it says so (exit 2) and writes nothing.
- `strangler analyze` run from the kit's folder silently loaded the demo's config/footprint.yaml, so a user's
  report listed the demo's tables and modules: now it reads the project's own footprint config.
(tests/unit/test_projects.py checks the same rules in-process, with more cases.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from strangler.project import KIT_DIR

STRANGLER = Path(sys.executable).with_name("strangler")
TEMPLATE = 'upstreams:\n  legacy: {url: "http://127.0.0.1:5000"}\ndefault: legacy\nfeatures: {}\n'
SCRIPT = (
    "-- module: beds\nSELECT * FROM BEDS;\nUPDATE PLANTS SET N = 1;\n"
    "-- module: plants\nINSERT INTO PLANTS VALUES (1);\n"
)

pytestmark = pytest.mark.integration


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRANGLER_") and k != "PYTHONPATH"}
    return subprocess.run(
        [str(STRANGLER), *args], cwd=cwd, env={**env, "COLUMNS": "400"}, capture_output=True, text=True, timeout=120
    )


def project(root: Path) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "strangler.yaml").write_text("project: greenhouse\n")
    (root / "config" / "routes.yaml").write_text(TEMPLATE)
    (root / "config" / "footprint.yaml").write_text("modules:\n  plants: [PLANTS]\n")
    return root


def test_routes_init_from_a_subfolder_and_outside_any_project(tmp_path: Path) -> None:
    root = project(tmp_path / "gh")
    (root / "src" / "app").mkdir(parents=True)
    done = cli("routes", "init", cwd=root / "src" / "app")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "var" / "routes.yaml").read_text() == TEMPLATE

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    done = cli("routes", "init", cwd=outside)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().startswith("error: No strangler project here") and "Fix:" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not list(outside.iterdir())


def test_analyze_from_the_kits_folder_reads_the_projects_footprint_not_the_demos(tmp_path: Path) -> None:
    root = project(tmp_path / "gh")
    (root / "q.sql").write_text(SCRIPT)
    done = cli("--project", str(root), "analyze", "run", str(root / "q.sql"), "--json", "--no-save", cwd=KIT_DIR)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert set(report["tables"]) == {"BEDS", "PLANTS"}  # no demo table (PRODUCTS, ...) added by its config
    assert report["tables"]["PLANTS"]["owner"] == "plants"  # the project's own config, not a guess
    assert "catalog" not in done.stdout
