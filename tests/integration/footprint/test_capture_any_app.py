"""`strangler analyze capture -- COMMAND` captures SQL from an app in its OWN virtualenv on ANOTHER Python
(here the system's /usr/bin/python3, where the kit is not importable), with no stray error output, and
keeps the interpreter's own sitecustomize working."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

KIT_STRANGLER = Path(sys.executable).with_name("strangler")
SYSTEM_PYTHON = Path("/usr/bin/python3")
# The app's dependencies, lent from the test environment (pure Python fallbacks are used on other versions)
APP_DEPS = ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker", "sqlalchemy",
            "typing_extensions.py")

APP = textwrap.dedent('''
    import importlib.util, json, sys
    from flask import Blueprint, Flask
    from sqlalchemy import create_engine, text

    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE plants (id INTEGER PRIMARY KEY, name TEXT)"))
    app = Flask("greenhouse")
    plants = Blueprint("plants", __name__)

    @plants.post("/plants/<name>")
    def create(name):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO plants (name) VALUES (:n)"), {"n": name})
        return {"ok": True}

    app.register_blueprint(plants)
    assert app.test_client().post("/plants/fern").status_code == 200
    print(json.dumps({"version": list(sys.version_info[:2]),
                      "kit_importable": importlib.util.find_spec("strangler") is not None,
                      "sitecustomize": getattr(sys.modules.get("sitecustomize"), "__file__", None)}))
''')


def _capture(tmp_path: Path, python: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    (tmp_path / "app.py").write_text(APP)
    out = tmp_path / "capture.jsonl"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(KIT_STRANGLER), "analyze", "capture", "-o", str(out), "--", str(python), "app.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    lines = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return proc, lines


def _app_venv(tmp_path: Path) -> Path:
    """A virtualenv of the system Python whose site-packages sees only the app's dependencies."""
    if not SYSTEM_PYTHON.exists():
        pytest.skip("no /usr/bin/python3 on this machine")
    venv = tmp_path / "appvenv"
    made = subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(venv)], capture_output=True,
                          timeout=120)
    if made.returncode:
        pytest.skip(f"cannot make a venv with {SYSTEM_PYTHON}: {made.stderr.decode()[-200:]}")
    deps = tmp_path / "deps"
    deps.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for name in APP_DEPS:
        (deps / name).symlink_to(site / name)
        for info in site.glob(f"{name.removesuffix('.py')}-*.dist-info"):  # versions some packages read
            (deps / info.name).symlink_to(info)
    (next(venv.glob("lib/python3*/site-packages")) / "appdeps.pth").write_text(f"{deps}\n")
    return venv / "bin" / "python"


def _assert_captured(proc: subprocess.CompletedProcess, lines: list[dict]) -> dict:
    assert proc.returncode == 0, proc.stderr
    assert "Error in sitecustomize" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "SQL capture not installed" not in proc.stderr, proc.stderr
    assert {"sql": "INSERT INTO plants (name) VALUES (?)", "module": "plants", "endpoint": "plants.create",
            "method": "POST"} in lines
    assert any(r["sql"].startswith("CREATE TABLE plants") and r["module"] == "(no request)" for r in lines)
    assert "captured" in proc.stderr
    # the app's own last line (the CLI may end with its "Next:" hint after it)
    return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])


def test_capture_in_another_python_and_virtualenv(tmp_path):
    python = _app_venv(tmp_path)
    facts = _assert_captured(*_capture(tmp_path, python))
    assert facts["version"] != list(sys.version_info[:2])  # really another interpreter
    assert facts["kit_importable"] is False
    system_site = Path("/usr/lib/python3.11/sitecustomize.py")
    if facts["version"] == [3, 11] and system_site.exists():  # Debian's own sitecustomize still ran
        assert facts["sitecustomize"] == str(system_site)


def test_capture_without_a_sitecustomize_to_chain_to(tmp_path):
    """The kit's interpreter has no sitecustomize of its own: ours stays, and nothing is printed."""
    facts = _assert_captured(*_capture(tmp_path, Path(sys.executable)))
    assert facts["sitecustomize"].endswith(os.path.join("strangler_app", "_capture", "sitecustomize.py"))


def test_a_process_without_sqlalchemy_runs_untouched(tmp_path):
    """Capture waits for `import sqlalchemy`; a program that never imports it (or lacks it) sees nothing."""
    python = SYSTEM_PYTHON if SYSTEM_PYTHON.exists() else Path(sys.executable)
    out = tmp_path / "capture.jsonl"
    done = subprocess.run([str(KIT_STRANGLER), "analyze", "capture", "-o", str(out), "--", str(python), "-c",
                           "import sys; print('sqlalchemy' in sys.modules)"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr
    assert "Error in sitecustomize" not in done.stderr and "Traceback" not in done.stderr
    assert "captured 0 statements" in done.stderr and "nothing captured" in done.stderr
