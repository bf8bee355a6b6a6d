"""{var} in a migrations file's *_default URLs is the project's var dir, as in stack files; {var_dir} (its
older name) still works; any other placeholder is a config error that names the fix, not a KeyError."""
from __future__ import annotations

from pathlib import Path

import pytest

from strangler.migrate.config import MigrationConfigError, load_config

FILE = """\
plants:
  mapping: mappings.plants:PLANTS
  source_env: TEST_PLACEHOLDER_SOURCE_URL
  source_default: "sqlite:///{source}/legacy.db"
  target_env: TEST_PLACEHOLDER_TARGET_URL
  target_default: "sqlite:///{target}/plants.db"
"""


def _feature(tmp_path: Path, source: str, target: str):
    path = tmp_path / "migrations.yaml"
    path.write_text(FILE.format(source=source, target=target))
    return load_config(path)["plants"]


def test_var_and_its_older_name_are_the_var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_PLACEHOLDER_SOURCE_URL", raising=False)
    monkeypatch.delenv("TEST_PLACEHOLDER_TARGET_URL", raising=False)
    var = tmp_path / "var"
    var.mkdir()
    (var / "legacy.db").touch()
    feature = _feature(tmp_path, "{var}", "{var_dir}")
    assert feature.resolve_url("source", var) == f"sqlite:///{var}/legacy.db"
    assert feature.resolve_url("target", var) == f"sqlite:///{var}/plants.db"


def test_an_unknown_placeholder_is_refused_when_the_file_is_read(tmp_path: Path) -> None:
    with pytest.raises(MigrationConfigError) as refused:
        _feature(tmp_path, "{var}", "{data}")
    message = str(refused.value)
    assert "feature 'plants'" in message and "target_default" in message and "Fix: use {var}" in message
