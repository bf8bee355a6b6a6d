"""The kit as an installed tool: its wheel (built once from a clean copy of the checkout) installed with
--no-deps into a fresh virtualenv that sees this environment's packages through a .pth line (nothing is
downloaded), then `strangler init` in an unrelated folder against a tiny Flask app, `routes check`, and
`up -d` + a request through the façade — which proves `{kit}/proxy/facade.py` and the package data are
found in site-packages. The wheel holds the kit only: no demo package is importable from it."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import httpx
import pytest

from proxy.dashboard.web import STATIC

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
DEMO = ("acl", "legacy_monolith", "new_services")
KIT = {"strangler", "proxy", "load", "strangler_app"}
# build artefacts and local state of the checkout never go into the copy the wheel is built from (a stale
# build/lib would be packed into the wheel as it is)
IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "var", "*.egg-info", "__pycache__",
                                ".pytest_cache", ".hypothesis", ".schemathesis", "node_modules", "tests")

APP = '''
from flask import Blueprint, Flask

shelves = Blueprint("shelves", __name__)


@shelves.get("/api/shelves/<int:shelf_id>")
def shelf(shelf_id):
    return {"shelf": shelf_id}


app = Flask(__name__)
app.register_blueprint(shelves)


@app.get("/ping")
def ping():
    return "pong"
'''

pytestmark = pytest.mark.integration


def run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`argv` as a new user runs it: a bare PATH, HOME = cwd, none of this run's variables."""
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh virtualenv holding only the kit's wheel (dependencies seen through a .pth line)."""
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools (dev extras)")
    tmp = tmp_path_factory.mktemp("installed")
    shutil.copytree(ROOT, tmp / "src", ignore=IGNORE)
    run([sys.executable, "-m", "pip", "wheel", str(tmp / "src"), "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(tmp / "wheel")], cwd=tmp)
    wheel = next((tmp / "wheel").glob("strangler_kit-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == KIT
    run([sys._base_executable, "-m", "venv", "--without-pip", str(tmp / "venv")], cwd=tmp)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(tmp / "venv"), "platbase": str(tmp / "venv")}))
    # this environment's packages, after the venv's own (a plain path line: its .pth files, such as the
    # editable install of the checkout, are not run)
    (purelib / "zz_test_env.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([sys.executable, "-m", "pip", "--python", str(tmp / "venv" / "bin" / "python"), "install", "--no-deps",
         "--no-index", "-q", str(wheel)], cwd=tmp)
    bin_dir = tmp / "venv" / "bin"
    # what `pip install` of the dependencies would also put there: the façade's mitmdump launcher
    (bin_dir / "mitmdump").write_text(f"#!{bin_dir / 'python'}\nfrom mitmproxy.tools.main import mitmdump\n"
                                      "raise SystemExit(mitmdump())\n")
    (bin_dir / "mitmdump").chmod(0o755)
    return bin_dir


def test_the_wheel_holds_no_demo_package(tool: Path, tmp_path: Path) -> None:
    code = ("import importlib.util as u, strangler, proxy; "
            f"print([m for m in {DEMO!r} if u.find_spec(m)]); print(strangler.__file__); print(proxy.__file__)")
    found, strangler_file, proxy_file = run([str(tool / "python"), "-c", code], cwd=tmp_path).stdout.splitlines()
    assert found == "[]"
    assert strangler_file.startswith(str(tool.parent)) and proxy_file.startswith(str(tool.parent))


def test_init_in_an_unrelated_folder_runs_behind_the_facade(tool: Path, tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "shop.py").write_text(textwrap.dedent(APP))
    project = tmp_path / "migration"
    legacy = f"{BIN}/gunicorn -w 1 --no-control-socket -b 127.0.0.1:{{port}} shop:app"
    init = run([str(tool / "strangler"), "init", str(project), "--legacy", legacy, "--health", "/ping",
                "--flask-app", "shop:app"], cwd=tmp_path / "app")
    assert "shelves: " in init.stdout and "/api/shelves/{shelf_id}" in (project / "config" / "routes.yaml").read_text()
    strangler = str(tool / "strangler")
    assert "OK" in run([strangler, "routes", "check"], cwd=project).stdout
    try:
        up = run([strangler, "up", "-d"], cwd=project)
        facade = run([strangler, "url", "facade"], cwd=project).stdout.strip()
        answer = httpx.get(f"{facade}/api/shelves/7", timeout=30)
        assert answer.status_code == 200 and answer.json() == {"shelf": 7}
        assert answer.headers["x-served-by"] == "legacy"
        # the dashboard's assets are package data of the installed wheel: its admin listener serves each file
        dashboard = re.search(r"open the dashboard (http://127\.0\.0\.1:\d+)/ui", " ".join(up.stdout.split()))
        assert dashboard, up.stdout
        login = httpx.get(f"{dashboard[1]}/ui/login", timeout=30)
        assert login.status_code == 200 and "<form" in login.text
        for name in STATIC:  # every file the dashboard serves
            asset = httpx.get(f"{dashboard[1]}/ui/static/{name}", timeout=30)
            assert asset.status_code == 200 and asset.text == (ROOT / "proxy" / "dashboard" / name).read_text(), name
    finally:  # in the same environment as `up`: with this run's variables it would look for another stack
        run([strangler, "down"], cwd=project, timeout=120)
