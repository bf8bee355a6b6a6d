"""The live route table lives in var/ and is created from the template; flips never edit the template."""
from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from proxy.flips import flip_feature
from strangler.cli.app import app
from strangler.settings import KitSettings

ROOT = Path(__file__).resolve().parents[2]


def test_live_table_is_created_from_the_template_and_flips_leave_the_template_alone(tmp_path: Path) -> None:
    template = tmp_path / "routes.template.yaml"
    shutil.copy(ROOT / "config" / "routes.yaml", template)
    shipped = template.read_text()
    settings = KitSettings(var_dir=tmp_path / "var", routes_template=template)

    live = settings.routes_path()
    assert live == tmp_path / "var" / "routes.yaml" and live.read_text() == shipped
    flip_feature(live, "catalog", "shadow", actor="test", ledger_path=tmp_path / "ledger.jsonl")
    assert "state: shadow" in live.read_text()
    assert template.read_text() == shipped
    assert settings.routes_path() == live and "state: shadow" in live.read_text()  # not re-created


def test_routes_init_creates_once_then_keeps(tmp_path: Path, monkeypatch) -> None:
    import strangler.cli.routes  # noqa: F401 - registers the command

    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("STRANGLER_ROUTES_TEMPLATE", str(ROOT / "config" / "routes.yaml"))
    runner = CliRunner()
    first = runner.invoke(app, ["routes", "init"])
    assert first.exit_code == 0 and "created" in first.output
    (tmp_path / "var" / "routes.yaml").write_text((tmp_path / "var" / "routes.yaml").read_text() + "# mine\n")
    second = runner.invoke(app, ["routes", "init"])
    assert second.exit_code == 0 and "kept" in second.output
    assert (tmp_path / "var" / "routes.yaml").read_text().endswith("# mine\n")
    forced = runner.invoke(app, ["routes", "init", "--force"])
    assert forced.exit_code == 0 and not (tmp_path / "var" / "routes.yaml").read_text().endswith("# mine\n")
