"""The mix file's `login:` section (issue 24): each simulated user logs in once with its own credentials
(a per-user session, never a static token); `login: true` entries use that user's values; secrets come from
the environment or the install's var/secrets.env and never appear in errors; mistakes are FILE:LINE + Fix."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from load.mix import MixError, load_mix, load_mix_and_login

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


def test_the_secret_comes_from_the_install_when_not_in_the_environment(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIX_TEST_PASSWORD", raising=False)
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "var"))
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secrets.env").write_text("MIX_TEST_PASSWORD=from-the-install\n")
    _, login = load_mix_and_login(_write(tmp_path, LOGIN + MIX))
    assert login is not None and login.render({"n": 1})[1]["Password"] == "from-the-install"


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
