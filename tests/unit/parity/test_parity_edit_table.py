"""proxy.flips.edit_table: the shared lock + validate + atomic, comment-keeping write."""
from __future__ import annotations

from pathlib import Path

import pytest

from proxy.flips import FlipError, edit_table
from proxy.table import load_table

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture()
def routes(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text((REPO / "config/routes.yaml").read_text())
    return path


def test_edit_keeps_comments_and_runs_after_write(routes: Path) -> None:
    seen = []

    def mutate(table, doc):
        doc["features"]["orders"]["parity"]["unordered"].append("$.Orders")
        return len(table.features)

    edit = edit_table(routes, mutate, after_write=seen.append)
    assert edit.changed and edit.value == 2 and seen == [2]
    assert edit.table.features["orders"].parity.unordered == ["$.Orders"]
    assert load_table(routes).features["orders"].parity.unordered == ["$.Orders"]
    assert "# Orders: placing, reading" in routes.read_text()


def test_unchanged_tree_writes_nothing(routes: Path) -> None:
    before = routes.read_text()
    calls = []
    edit = edit_table(routes, lambda table, doc: "same", after_write=calls.append)
    assert not edit.changed and calls == [] and routes.read_text() == before


def test_invalid_result_is_refused_and_nothing_is_written(routes: Path) -> None:
    before = routes.read_text()

    def mutate(table, doc):
        doc["features"]["catalog"]["parity"]["ignore"].append("Products.Created")  # not a JSON path

    with pytest.raises(FlipError, match="would be invalid; nothing written"):
        edit_table(routes, mutate)
    assert routes.read_text() == before


def test_already_invalid_table_is_reported(routes: Path) -> None:
    routes.write_text("upstreams: {}\n")
    with pytest.raises(FlipError, match="invalid; fix it first"):
        edit_table(routes, lambda table, doc: None)
