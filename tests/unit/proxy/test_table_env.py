"""Upstream URLs may read the environment, so one table follows the ports the supervisor chose."""
from __future__ import annotations

import pytest

from proxy.table import TableError, parse_table

TABLE = """upstreams:
  legacy: {url: "http://127.0.0.1:${STRANGLER_PORT_LEGACY:-5000}"}
  svc:
    url: "http://127.0.0.1:${SVC_PORT}"
default: legacy
"""


def test_defaults_apply_and_the_environment_wins(monkeypatch) -> None:
    monkeypatch.delenv("STRANGLER_PORT_LEGACY", raising=False)
    monkeypatch.setenv("SVC_PORT", "7001")
    table = parse_table(TABLE)
    assert table.upstreams["legacy"].url == "http://127.0.0.1:5000"
    assert table.upstreams["svc"].port == 7001
    monkeypatch.setenv("STRANGLER_PORT_LEGACY", "5123")
    assert parse_table(TABLE).upstreams["legacy"].port == 5123


def test_unset_variable_without_default_names_line_and_fix(monkeypatch) -> None:
    monkeypatch.delenv("SVC_PORT", raising=False)
    with pytest.raises(TableError) as err:
        parse_table(TABLE, "t.yaml")
    assert err.value.line == 4 and "SVC_PORT" in str(err.value) and "export SVC_PORT" in str(err.value)
