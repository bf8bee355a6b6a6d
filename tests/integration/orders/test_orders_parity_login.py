"""A logged-in `strangler parity run` of orders straight against the service (issue 24): each simulated user
logs in on the monolith (the mix's login:), and because the feature has identity: remote, the run asks the
monolith who the user is and signs X-Strangler-Identity for the service, as the façade does. Both sides then
answer the same customer: no 401 on either side, every comparison equal (ServerTime is noise)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.identity_auth import IDENTITY_KEY, PASSWORD

pytestmark = pytest.mark.integration
MIX = """login:
  method: POST
  path: /api/login
  params: {n: {range: [1, 8]}}
  json: {Email: "customer{n}@example.com", Password: "${LEGACY_SEED_PASSWORD}"}
mixes:
  read:
    - path: /api/orders/{id}
      params: {id: {range: [1, 40]}}
      login: true
      expect: [200]
    - path: /api/orders?customer_id={n}
      login: true
      expect: [200]
"""
ROUTES = """upstreams:
  legacy: {{url: "{legacy}", timeout_s: 10}}
  orders: {{url: "{orders}", timeout_s: 10}}
default: legacy
features:
  orders:
    target: orders
    state: shadow
    identity: remote
    routes:
      - {{methods: [GET, HEAD, POST], path: "/api/orders"}}
      - {{methods: [GET, HEAD], path: "/api/orders/{{id}}"}}
"""


def _cli(tmp: Path, *args: str, password: str | None = PASSWORD) -> subprocess.CompletedProcess:
    env = {**os.environ, "STRANGLER_IDENTITY_KEY": IDENTITY_KEY, "STRANGLER_VAR_DIR": str(tmp / "var")}
    env.pop("LEGACY_SEED_PASSWORD", None)
    if password is not None:
        env["LEGACY_SEED_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "strangler", *args], env=env, capture_output=True, text=True,
                          timeout=180, check=False)


def test_a_logged_in_parity_run_compares_orders_as_the_same_user(stack, tmp_path: Path) -> None:
    (tmp_path / "mix.yaml").write_text(MIX)
    (tmp_path / "routes.yaml").write_text(ROUTES.format(legacy=stack.legacy_url, orders=stack.orders_url))
    store = tmp_path / "parity.db"
    done = _cli(tmp_path, "parity", "run", "--reference", stack.legacy_url, "--candidate", stack.orders_url,
                "--feature", "orders", "--routes", str(tmp_path / "routes.yaml"), "--mix", str(tmp_path / "mix.yaml"),
                "--users", "2", "--run-time", "20s", "--max-requests", "40", "--store", str(store))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    stats = {row["Name"]: row for row in csv.DictReader((tmp_path / "var" / "locust" / "parity_stats.csv").open())}
    assert int(stats["login"]["Request Count"]) == 2 and stats["login"]["Failure Count"] == "0"
    assert int(stats["identity (who am I)"]["Request Count"]) == 2
    assert int(stats["/api/orders/{id}"]["Request Count"]) > 0 and stats["/api/orders/{id}"]["Failure Count"] == "0"
    report = json.loads(_cli(tmp_path, "parity", "report", "orders", "--json", "--store", str(store)).stdout)
    orders = report["features"]["orders"]
    assert orders["compared"] >= 20 and orders["verdict"] == "equal", orders


def test_without_the_password_the_users_cannot_log_in_and_the_run_fails(stack, tmp_path: Path) -> None:
    (tmp_path / "mix.yaml").write_text(MIX)
    (tmp_path / "routes.yaml").write_text(ROUTES.format(legacy=stack.legacy_url, orders=stack.orders_url))
    done = _cli(tmp_path, "parity", "run", "--reference", stack.legacy_url, "--candidate", stack.orders_url,
                "--feature", "orders", "--routes", str(tmp_path / "routes.yaml"), "--mix", str(tmp_path / "mix.yaml"),
                "--users", "1", "--run-time", "5s", "--max-requests", "5", "--store", str(tmp_path / "p.db"),
                password="wrong-password")
    assert done.returncode != 0
    assert "login refused: status 401" in (tmp_path / "var" / "locust" / "parity_failures.csv").read_text()
