"""The mix file's `login:` section (issue 24): each simulated user logs in once with its own credentials
(a per-user session, never a static token); `login: true` entries use that user's values; secrets come from
the environment or the install's var/secrets.env and never appear in errors; mistakes are FILE:LINE + Fix.
load.mix reads only the environment it is given: `strangler load`/`parity run` (LocustRun.env) put the install's
secrets and STRANGLER_VAR_DIR into Locust's environment, so load/ never imports the CLI (pyproject.toml)."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from load.mix import MixError, load_mix, load_mix_and_login
from strangler.cli.load import LocustRun
from strangler.procs import free_port

REPO = Path(__file__).resolve().parents[3]
LOGIN = """login:
  method: POST
  path: /api/login
  params: {n: {range: [1, 50]}}
  json: {Email: "customer{n}@example.com", Password: "${MIX_TEST_PASSWORD}"}
"""
MIX = """mixes:
  read:
    - path: /api/products
    - path: /api/orders?customer_id={n}
      login: true
    - method: POST
      path: /api/orders
      login: true
      params: {p: {range: [1, 9]}}
      json: {CustomerId: "{n}", Lines: [{ProductId: "{p}", Quantity: 1}]}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mix.yaml"
    path.write_text(text)
    return path


def test_each_user_draws_its_credentials_once_and_its_entries_use_them(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIX_TEST_PASSWORD", "s3cret-value")
    entries, login = load_mix_and_login(_write(tmp_path, LOGIN + MIX))
    assert login is not None and [e.login for e in entries] == [False, True, True]
    users = [login.draw(random.Random(seed)) for seed in range(5)]
    assert len({u["n"] for u in users}) > 1  # per user, not one shared login
    path, body, form = login.render({"n": 7})
    assert (path, body, form) == ("/api/login", {"Email": "customer7@example.com", "Password": "s3cret-value"},
                                  None)
    assert entries[1].render(random.Random(1), {"n": 7})[0] == "/api/orders?customer_id=7"
    order = entries[2].render(random.Random(1), {"n": 7})[1]
    assert order["CustomerId"] == 7 and isinstance(order["Lines"][0]["ProductId"], int)
    assert "s3cret-value" not in repr(login)


def test_a_form_login_and_no_login_needed_when_no_entry_asks(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIX_TEST_PASSWORD", "pw")
    form = LOGIN.replace('json: {Email: "customer{n}@example.com", Password: "${MIX_TEST_PASSWORD}"}',
                         'form: {username: "user{n}", password: "${MIX_TEST_PASSWORD}"}')
    _, login = load_mix_and_login(_write(tmp_path, form + MIX))
    assert login is not None and login.render({"n": 3})[2] == {"username": "user3", "password": "pw"}
    _, none = load_mix_and_login(_write(tmp_path, LOGIN + "mixes:\n  read:\n    - path: /api/products\n"))
    assert none is None


def _run(tmp_path: Path, var_dir: Path | None) -> LocustRun:
    return LocustRun(Path("locustfile.py"), "http://127.0.0.1:1", 1, "1s", None, tmp_path / "run",
                     tmp_path / "run.html", tmp_path / "mix.yaml", "read", 10, {}, var_dir)


def test_the_secret_comes_from_the_install_when_not_in_the_environment(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI hands Locust the install's var/secrets.env under the caller's environment (and the var dir);
    the mix reads what it is given."""
    monkeypatch.delenv("MIX_TEST_PASSWORD", raising=False)
    monkeypatch.setenv("MIX_TEST_OTHER", "from-the-caller")
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secrets.env").write_text("# generated\nMIX_TEST_PASSWORD=from-the-install\n"
                                                  "MIX_TEST_OTHER=saved\n")
    env = _run(tmp_path, tmp_path / "var").env()
    assert env["MIX_TEST_PASSWORD"] == "from-the-install" and env["MIX_TEST_OTHER"] == "from-the-caller"
    assert env["STRANGLER_VAR_DIR"] == str(tmp_path / "var") and env["STRANGLER_LOAD_MIX"] == str(tmp_path / "mix.yaml")
    _, login = load_mix_and_login(_write(tmp_path, LOGIN + MIX), environ=env)
    assert login is not None and login.render({"n": 1})[1]["Password"] == "from-the-install"
    assert "MIX_TEST_PASSWORD" not in _run(tmp_path, None).env()  # no install named: the environment alone


def test_the_mix_never_looks_for_the_install_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A var dir in the environment is not read by load.mix: only the CLI hands the secrets over."""
    monkeypatch.delenv("MIX_TEST_PASSWORD", raising=False)
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "var"))
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secrets.env").write_text("MIX_TEST_PASSWORD=from-the-install\n")
    with pytest.raises(MixError, match="MIX_TEST_PASSWORD"):
        load_mix_and_login(_write(tmp_path, LOGIN + MIX))
    _, login = load_mix_and_login(_write(tmp_path, LOGIN + MIX), environ={"MIX_TEST_PASSWORD": "given"})
    assert login is not None and login.render({"n": 1})[1]["Password"] == "given"


@pytest.mark.parametrize(("text", "line", "needle"), [
    (MIX, 4, "has 'login: true' but the file has no 'login:' section"),  # entry 2: line 4
    (LOGIN.replace("customer{n}", "customer{m}") + MIX, 1, "the login uses ['m']"),
    (LOGIN.replace("  method: POST\n", "  method: POST\n  form: {a: b}\n") + MIX, 1, "not both"),
    (LOGIN.replace("path: /api/login", "path: api/login") + MIX, 1, "must start with '/'"),
    (LOGIN + MIX.replace("params: {p: {range: [1, 9]}}", "params: {n: {range: [1, 9]}}"), 11,
     "also the login's per-user params"),
    (LOGIN + MIX.replace("      login: true\n    - method", "    - method"), 9, "params does not define them"),
    (LOGIN.replace("  method: POST\n", "  method: POST\n  token: abc\n") + MIX, 3, "Extra inputs"),
])
def test_mistakes_are_file_line_and_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int,
                                        needle: str) -> None:
    monkeypatch.setenv("MIX_TEST_PASSWORD", "pw")
    path = _write(tmp_path, text)
    with pytest.raises(MixError) as caught:
        load_mix_and_login(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}:") and needle in message and "Fix:" in message, message


def test_an_unknown_secret_names_the_variable_never_a_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIX_TEST_PASSWORD", raising=False)
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "empty-var"))
    path = _write(tmp_path, LOGIN + MIX)
    assert load_mix(path)  # structure only: no secret needed to check the file
    with pytest.raises(MixError) as caught:
        load_mix_and_login(path)
    assert str(caught.value).startswith(f"{path}:5:") and "MIX_TEST_PASSWORD" in str(caught.value)
    assert "Fix: export MIX_TEST_PASSWORD" in str(caught.value)


def test_the_demo_mix_logs_in_for_every_orders_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGACY_SEED_PASSWORD", "demo")
    for name in ("read", "write"):
        entries, login = load_mix_and_login(REPO / "config" / "load-mix.yaml", name)
        assert login is not None and login.path == "/api/login"
        orders = [e for e in entries if e.route.startswith("/api/orders")]
        assert orders and all(e.login for e in orders)
        assert not any(e.login for e in entries if not e.route.startswith("/api/orders"))


def _strangler_load(tmp_path: Path, mix: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MIX_TEST_PASSWORD"}
    env["STRANGLER_VAR_DIR"] = str(tmp_path / "var")
    port = free_port()  # nothing listens there: a run that gets past the mix stops at the pre-flight request
    return subprocess.run([sys.executable, "-m", "strangler", "load", "--host", f"http://127.0.0.1:{port}",
                           "--mix", str(mix), "--run-time", "1s", "--max-requests", "1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_strangler_load_checks_the_login_secret_with_what_it_hands_locust(tmp_path: Path) -> None:
    """Before Locust starts: an unknown secret is the mix's FILE:LINE error; the install's saved one is found
    (the run then reaches the pre-flight request)."""
    mix = _write(tmp_path, LOGIN + MIX)
    missing = _strangler_load(tmp_path, mix)
    assert missing.returncode == 2 and f"{mix}:5:" in missing.stderr and "MIX_TEST_PASSWORD" in missing.stderr, \
        missing.stderr
    (tmp_path / "var").mkdir(exist_ok=True)
    (tmp_path / "var" / "secrets.env").write_text("MIX_TEST_PASSWORD=from-the-install\n")
    found = _strangler_load(tmp_path, mix)
    assert found.returncode == 2 and "nothing answers at 127.0.0.1" in found.stderr, found.stderr
    assert "from-the-install" not in found.stdout + found.stderr
