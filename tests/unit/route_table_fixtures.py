"""Fixtures for the route-table control plane (proxy/table.py, proxy/flips.py, strangler/cli/routes.py,
strangler/promote.py): a small generic table on disk and an isolated var dir. The conftest.py of
tests/unit/proxy and tests/unit/strangler import them."""
from __future__ import annotations

from pathlib import Path

import pytest

# Line numbers matter: tests/unit/proxy/test_table_errors.py asserts them against this text.
TABLE = """\
# top comment: kept across flips
upstreams:
  old: {url: "http://127.0.0.1:5000"}   # the monolith
  alpha: {url: "http://127.0.0.1:8101", dry_run_writes: true}
  beta:
    url: "http://127.0.0.1:8102"
default: old
features:
  # feature comment: kept too
  one:
    target: alpha
    state: legacy
    routes:
      - {methods: [GET], path: "/api/things"}
      - {methods: [GET, PUT], path: "/api/things/{id}"}
  two:
    target: beta
    state: shadow
    canary_percent: 25
    routes:
      - {methods: ["*"], path: "/api/widgets/{rest:path}"}
"""


@pytest.fixture
def table_text() -> str:
    return TABLE


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """STRANGLER_VAR_DIR points into tmp (the default ledger lives there); settings are read per use."""
    var = tmp_path / "var"
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(var))
    monkeypatch.delenv("STRANGLER_ROUTES_FILE", raising=False)
    monkeypatch.setenv("STRANGLER_ACTOR", "tester")
    yield var


@pytest.fixture
def routes_file(tmp_path: Path, var_dir: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(TABLE)
    return path


@pytest.fixture
def ledger_file(var_dir: Path) -> Path:
    return var_dir / "ledger.jsonl"
