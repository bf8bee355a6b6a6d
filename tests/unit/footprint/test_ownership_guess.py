"""Ownership without config: a table named like a module is that module's, even when another module writes
it more (the "backwards" coupling report); otherwise the top writer. Guesses are listed with how to pin them."""
import json

from typer.testing import CliRunner

import strangler.cli.analyze  # noqa: F401 - registers `analyze` on the root app
from strangler.cli.app import app
from strangler.footprint.analysis import analyse_capture
from strangler.footprint.config import FootprintConfig
from strangler.footprint.naming import ABBREVIATION, EXACT, name_score
from strangler.footprint.readers import Capture

# A foreign monolith: watering updates plants far more often than the plants blueprint does.
SCRIPT = """\
-- module: plants
INSERT INTO plants (name, species) VALUES ('fern', 'x');
SELECT id, name FROM plants WHERE id = 1;
-- module: watering
UPDATE plants SET last_watered = '2026-01-01' WHERE id = 1;
UPDATE plants SET last_watered = '2026-01-02' WHERE id = 2;
UPDATE plants SET last_watered = '2026-01-03' WHERE id = 3;
INSERT INTO watering_events (plant_id, ml) VALUES (1, 200);
-- module: inv
UPDATE inventory SET qty = qty - 1 WHERE sku = 'S';
-- module: sensors
INSERT INTO readings (sensor_id, value) VALUES (1, 2.5);
"""


def _capture() -> Capture:
    cap = Capture()
    module = None
    for line in SCRIPT.splitlines():
        if line.startswith("-- module: "):
            module = line.split(": ", 1)[1]
        else:
            for _ in range(3 if module == "watering" else 1):
                cap.add(line.rstrip(";"), module, None, None)
    return cap


def test_name_matching_rules():
    assert name_score("plant", "plants") == name_score("plants", "PLANTS") == EXACT
    assert name_score("categories", "category") == name_score("status", "statuses") == EXACT
    assert name_score("inv", "inventory") == name_score("inventory", "inv") == ABBREVIATION
    assert name_score("watering", "plants") == 0 and name_score("catalog", "products") == 0


def test_a_modules_own_table_stays_its_own_when_another_module_writes_it_more():
    result = analyse_capture(_capture())
    tables = result["tables"]
    assert tables["plants"]["writers"]["watering"] > tables["plants"]["writers"]["plants"]
    assert (tables["plants"]["owner"], tables["plants"]["owner_source"]) == ("plants", "inferred from name")
    assert (tables["inventory"]["owner"], tables["inventory"]["owner_source"]) == ("inv", "inferred from name")
    assert (tables["readings"]["owner"], tables["readings"]["owner_source"]) == ("sensors", "inferred from writes")
    assert tables["watering_events"]["owner"] == "watering"
    edges = {(e["module"], e["table"], e["owner"]) for e in result["coupling"]}
    assert edges == {("watering", "plants", "plants")}  # not "plants reads watering's table"
    assert result["guessed_owners"] == {"inv": ["inventory"], "plants": ["plants"], "sensors": ["readings"],
                                        "watering": ["watering_events"]}


def test_the_config_wins_and_is_not_listed_as_a_guess():
    result = analyse_capture(_capture(), FootprintConfig(modules={"watering": ["plants"]}))
    assert (result["tables"]["plants"]["owner"], result["tables"]["plants"]["owner_source"]) == ("watering", "config")
    assert "plants" not in result["guessed_owners"].get("watering", [])


def test_the_report_says_which_owners_were_guessed_and_how_to_pin_them(tmp_path, monkeypatch):
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "strangler.yaml").write_text("project: greenhouse\n")  # a project without footprint config
    (tmp_path / "q.sql").write_text(SCRIPT)
    shown = CliRunner().invoke(app, ["analyze", "q.sql"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.stdout.split())
    assert "4 owner(s) guessed" in text and "Pin them under `modules:` in the footprint config" in text
    assert "modules: inv: [inventory] plants: [plants] sensors: [readings] watering: [watering_events]" in text
    md = CliRunner().invoke(app, ["analyze", "q.sql", "--format", "markdown"])
    assert "```yaml\nmodules:\n  inv: [inventory]\n" in md.stdout
    saved = json.loads((tmp_path / "var" / "footprint" / "analysis.json").read_text())
    assert saved["guessed_owners"]["plants"] == ["plants"]
