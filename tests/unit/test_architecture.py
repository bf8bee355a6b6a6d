"""The dependency direction is a build rule: kit core (proxy/ = data plane, the adapter, load.mix = the mix
schema) <- operator CLI (strangler/) <- demo (legacy_monolith/, new_services/, acl/); load/'s Locust users and
benchmarks are run by the CLI, never imported by it, and the users (with the mix schema) never import the CLI:
it hands them what they need through Locust's environment. The contracts live in pyproject.toml
([tool.importlinter]); this runs them, so `make test` fails on an import that points the wrong way."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = (
    "The data plane (proxy/) never imports the operator CLI (strangler/)",
    "The kit (proxy/, load/, strangler/) never imports the demo",
    "The CLI (strangler/) imports only load.mix from load/",
    "The Locust users and the mix schema never import the CLI (strangler/)",
    "The demo's services never import the operator CLI",
    "The legacy monolith never imports the services or the ACL",
    "The app-side adapter (strangler_app) stands alone",
)


def lint(cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_every_import_contract_is_kept() -> None:
    done = lint()
    assert done.returncode == 0, done.stdout + done.stderr
    for name in CONTRACTS:  # each contract is still declared and was checked
        assert f"{name} KEPT" in done.stdout, done.stdout


def test_a_wrong_way_import_breaks_the_build(tmp_path: Path) -> None:
    """The same kind of contract on a two-package tree: the check sees an import inside a function too."""
    for package, body in {"core": "def run():\n    from cli import settings  # the wrong way\n",
                          "cli": "import core\n"}.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body)
    (tmp_path / "cli" / "settings.py").write_text("")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_packages =\n    core\n    cli\n\n[importlinter:contract:one]\n"
        "name = core never imports cli\ntype = forbidden\nsource_modules = core\nforbidden_modules = cli\n")
    done = lint(cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1 and "core never imports cli BROKEN" in done.stdout, done.stdout + done.stderr
    assert "core -> cli.settings" in done.stdout
