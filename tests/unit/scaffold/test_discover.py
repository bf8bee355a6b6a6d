"""What `strangler init` proposes from a Flask url_map or an OpenAPI document, and how `strangler add
feature` takes a proposal out of the route table's comments without touching anything else."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.table import parse_table
from proxy.table_edit import dump_yaml as _dump
from proxy.table_edit import round_trip as _round_trip
from strangler.scaffold import proposals
from strangler.scaffold.discover import (
    Route,
    ScaffoldError,
    _from_rules,
    app_python,
    flask_template,
    read_openapi,
)


@pytest.mark.parametrize(("rule", "template", "params"), [
    ("/plants/<int:pid>/", "/plants/{pid}", {"pid": "int"}),
    ("/files/<path:rest>", "/files/{rest:path}", {"rest": "path"}),
    ("/a/<name>/b", "/a/{name}/b", {"name": "str"}),
    ("/", "/", {}),
])
def test_flask_rules_become_route_templates(rule: str, template: str, params: dict) -> None:
    assert flask_template(rule) == (template, params)


@pytest.mark.parametrize("rule", ["/files/<name>.txt", "/x/<path:p>/raw"])
def test_rules_no_template_expresses_are_refused(rule: str) -> None:
    with pytest.raises(ValueError):
        flask_template(rule)


def test_blueprints_become_features_and_tables_next_to_them_are_guessed() -> None:
    rules = [
        {"rule": "/api/plants", "methods": ["GET", "HEAD", "OPTIONS", "POST"], "endpoint": "plants.index",
         "blueprint": "plants", "package": "gh.plants.views"},
        {"rule": "/api/plants/<int:id>", "methods": ["GET", "HEAD", "OPTIONS"], "endpoint": "plants.one",
         "blueprint": "plants", "package": "gh.plants.views"},
        {"rule": "/api/plants/<int:id>", "methods": ["DELETE", "OPTIONS"], "endpoint": "plants.drop",
         "blueprint": "plants", "package": "gh.plants.views"},
        {"rule": "/api/plants/<slug>", "methods": ["GET", "HEAD"], "endpoint": "admin.plant",
         "blueprint": "admin", "package": "gh.admin.views"},
        {"rule": "/status", "methods": ["GET", "HEAD"], "endpoint": "status", "blueprint": None, "package": None},
        {"rule": "/static/<path:filename>", "methods": ["GET"], "endpoint": "static", "blueprint": None,
         "package": None},
    ]
    tables = [{"name": "plant_notes", "module": "gh.plants.models"}, {"name": "plants", "module": "gh.db"},
              {"name": "audit", "module": "gh.admin.models"}]
    found = _from_rules("test", rules, tables)
    plants = {r.path: r.methods for r in found.features["plants"]}
    assert plants == {"/api/plants": ["GET", "HEAD", "POST"], "/api/plants/{id}": ["GET", "HEAD", "DELETE"]}
    assert "admin" not in found.features  # its only route's methods belong to plants already
    assert any("already in feature plants" in s for s in found.skipped)
    assert found.legacy_only == ["/status"]
    assert found.tables["plants"] == ["plant_notes", "plants"]


def test_openapi_tags_then_first_meaningful_segment(tmp_path: Path) -> None:
    doc = {"openapi": "3.0.0", "servers": [{"url": "http://example.test/api/v2"}], "paths": {
        "/beds/{bedId}": {"parameters": [{"name": "bedId", "in": "path", "schema": {"type": "integer"}}],
                          "get": {"tags": ["Garden Beds"]}, "put": {"tags": ["Garden Beds"]}},
        "/api/v1/tools": {"get": {}},
        "/{x}": {"get": {}},
    }}
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(doc))
    found = read_openapi(str(spec))
    beds = found.features["garden-beds"]
    assert [(r.path, r.methods, r.params) for r in beds] == [("/api/v2/beds/{bedId}", ["GET", "HEAD", "PUT"],
                                                              {"bedId": "int"})]
    assert [r.path for r in found.features["tools"]] == ["/api/v2/api/v1/tools"]
    assert found.legacy_only == ["/api/v2/{x}"]


def test_a_file_that_is_not_openapi_is_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "x.yaml"
    spec.write_text("hello: world\n")
    with pytest.raises(ScaffoldError, match="no `paths` mapping"):
        read_openapi(str(spec))


TABLE = """\
upstreams:
  legacy: {url: "http://127.0.0.1:5000"}
  svc: {url: "http://127.0.0.1:5001"}  # the service
default: legacy
features: {}

# proposed prose
""" + proposals.render({"a": [Route(["GET"], "/a")], "b": [Route(["GET", "POST"], "/b/{id}")]})


def test_a_used_proposal_leaves_the_comments_and_the_other_proposals() -> None:
    found = proposals.read(TABLE)
    assert list(found) == ["a", "b"] and found["a"]["routes"] == [{"methods": ["GET"], "path": "/a"}]
    yaml, doc = _round_trip(TABLE)
    doc["features"]["a"] = {"target": "svc", "routes": [{"path": "/a"}]}
    proposals.drop(doc, found["a"]["lines"], last=False)
    text = _dump(yaml, doc)
    assert "# the service" in text and "# proposed prose" in text and "#   a:" not in text
    assert list(proposals.read(text)) == ["b"]
    parse_table(text)
    yaml, doc = _round_trip(text)
    proposals.drop(doc, proposals.read(text)["b"]["lines"], last=True)
    text = _dump(yaml, doc)
    assert proposals.MARKER not in text and "#   b:" not in text and "# proposed prose" in text


def test_the_apps_interpreter_is_the_python_next_to_its_command(tmp_path: Path) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("gunicorn", "python"):
        (bin_dir / name).write_text("")
    gunicorn = str(bin_dir / "gunicorn")
    assert app_python([gunicorn, "-b", "127.0.0.1:{port}", "wsgi:app"], None) == str(bin_dir / "python")
    assert app_python(["env", "DB=x", gunicorn, "wsgi:app"], None) == str(bin_dir / "python")
    assert app_python([gunicorn], "/opt/app/bin/python") == "/opt/app/bin/python"
