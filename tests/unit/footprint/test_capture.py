"""strangler_app.sqlcapture: the SQLAlchemy listener labels each statement with the Flask blueprint/endpoint/method, or
"(no request)"."""
import json
import sys

import pytest
from flask import Blueprint, Flask
from sqlalchemy import create_engine, text
from strangler_app import sqlcapture as capture


@pytest.fixture
def capture_file(tmp_path):
    path = tmp_path / "sub" / "capture.jsonl"
    assert capture.install(str(path))
    try:
        yield path
    finally:
        capture.uninstall()


def _app(engine) -> Flask:
    app = Flask("t")
    bp = Blueprint("billing", __name__, url_prefix="/inv")

    @bp.post("/<int:n>")
    def create(n):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO inv (n) VALUES (:n)"), {"n": n})
        return {"ok": True}

    @app.get("/healthz")
    def health():
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {}

    app.register_blueprint(bp)
    return app


def test_labels_and_no_request(capture_file):
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE inv (n INT)"))
    client = _app(engine).test_client()
    assert client.post("/inv/3").status_code == 200
    assert client.get("/healthz").status_code == 200
    records = [json.loads(line) for line in capture_file.read_text().splitlines()]
    assert {"sql": "CREATE TABLE inv (n INT)", "module": "(no request)", "endpoint": None, "method": None} in records
    assert {"sql": "INSERT INTO inv (n) VALUES (?)", "module": "billing", "endpoint": "billing.create",
            "method": "POST"} in records
    assert {"sql": "SELECT 1", "module": "(app)", "endpoint": "health", "method": "GET"} in records
    assert all("3" not in r["sql"] for r in records)  # parameters are never recorded


def test_not_installed_without_a_path(monkeypatch):
    monkeypatch.delenv(capture.ENV, raising=False)
    assert capture.install() is False


def test_wrap_needs_the_env(monkeypatch):
    monkeypatch.delenv(capture.ENV, raising=False)
    with pytest.raises(RuntimeError, match=capture.ENV):
        capture.wrap(object())


def test_capture_subcommand_runs_a_python_program(tmp_path):
    from typer.testing import CliRunner

    import strangler.cli.analyze  # noqa: F401 - registers the command
    from strangler.cli.app import app

    out = tmp_path / "cap.jsonl"
    program = ("from sqlalchemy import create_engine, text\n"
               "e = create_engine('sqlite://')\n"
               "with e.connect() as c: c.execute(text('SELECT 42'))\n")
    result = CliRunner().invoke(app, ["analyze", "capture", "--out", str(out), "--", sys.executable, "-c", program])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text().splitlines()[-1]) == {"sql": "SELECT 42", "module": "(no request)",
                                                            "endpoint": None, "method": None}


def test_two_copies_of_the_module_install_one_listener(capture_file):
    """`analyze capture` loads sqlcapture.py from the kit while the app may install its own copy."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_other_sqlcapture", capture.__file__)
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    assert other.install(str(capture_file))
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(text("SELECT 42"))
    assert capture_file.read_text().count("SELECT 42") == 1
