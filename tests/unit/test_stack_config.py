"""Stack file parsing: placeholders, port overrides, and errors that name file, line and fix."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from strangler.stack import StackConfigError, load_stack, parse_port_overrides, resolve

GOOD = """\
# comment line
processes:
  legacy:
    command: ["{python}", "-m", "server", "--bind", "{host}:{port}", "--workers", "${WORKERS:-2}"]
    port: 5000
    env:
      DB_URL: "${DB_URL:-sqlite:///{var}/legacy.db}"
      HOME_DIR: "{project}"
      FACADE: "{kit}/proxy/facade.py"
    setup: [["{python}", "-m", "seed", "--into", "{var}"]]
    restart: on-failure
  facade:
    command: ["mitmdump", "--mode", "reverse:http://127.0.0.1:{port:legacy}", "-p", "{port}"]
    port: 8080
    health: null
"""


def write(tmp_path: Path, text: str, project: bool = True) -> Path:
    path = tmp_path / "proj" / "config" / "stack.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if project:
        (tmp_path / "proj" / "strangler.yaml").write_text("project: proj\n")
    return path


def error_of(tmp_path: Path, text: str, **resolve_kwargs) -> str:
    path = write(tmp_path, text)
    with pytest.raises(StackConfigError) as info:
        resolve(load_stack(path), var_dir=tmp_path / "var", environ={}, **resolve_kwargs)
    return str(info.value)


def test_placeholders_and_env_defaults(tmp_path):
    path = write(tmp_path, GOOD)
    plan = resolve(load_stack(path), var_dir=tmp_path / "var", environ={})
    legacy, facade = plan.processes
    var, root = str((tmp_path / "var").resolve()), str((tmp_path / "proj").resolve())
    assert legacy.argv == [sys.executable, "-m", "server", "--bind", "127.0.0.1:5000", "--workers", "2"]
    assert legacy.env["DB_URL"] == f"sqlite:///{var}/legacy.db"
    assert legacy.env["HOME_DIR"] == root and legacy.cwd == Path(root)
    assert legacy.env["STRANGLER_PROJECT"] == root
    assert Path(legacy.env["FACADE"]).is_file()  # {kit}: where the kit's packages are, installed or checked out
    assert legacy.setup == [[sys.executable, "-m", "seed", "--into", var]]
    assert legacy.health_url == "http://127.0.0.1:5000/healthz"
    assert legacy.log_path == Path(var) / "logs" / "legacy.log"
    assert (legacy.restart, legacy.max_restarts) == ("on-failure", 3)
    assert facade.argv[2] == "reverse:http://127.0.0.1:5000" and facade.health_url is None
    assert plan.names == ["legacy", "facade"]  # file order is start order


def test_environment_wins_over_defaults(tmp_path):
    path = write(tmp_path, GOOD)
    plan = resolve(load_stack(path), var_dir=tmp_path, environ={"WORKERS": "5", "DB_URL": "postgresql://x/y"})
    assert plan.processes[0].argv[-1] == "5"
    assert plan.processes[0].env["DB_URL"] == "postgresql://x/y"


def test_port_precedence_flag_then_env_then_file(tmp_path):
    stack = load_stack(write(tmp_path, GOOD))
    env = {"STRANGLER_PORT_LEGACY": "5002", "STRANGLER_PORT_FACADE": "9090"}
    plan = resolve(stack, var_dir=tmp_path, environ=env, port_overrides={"legacy": 5001})
    legacy, facade = plan.processes
    assert (legacy.port, facade.port) == (5001, 9090)
    assert facade.argv[2] == "reverse:http://127.0.0.1:5001"  # {port:legacy} follows the override
    assert resolve(stack, var_dir=tmp_path, environ={}).processes[0].port == 5000


def test_subset_keeps_only_named_processes(tmp_path):
    plan = resolve(load_stack(write(tmp_path, GOOD)), var_dir=tmp_path, environ={}, names=["facade"])
    assert plan.names == ["facade"]
    assert plan.processes[0].argv[2] == "reverse:http://127.0.0.1:5000"


def test_unknown_subset_name(tmp_path):
    assert "no process named 'nope'" in error_of(tmp_path, GOOD, names=["nope"])


@pytest.mark.parametrize("flag, message", [
    ("legacy", "expected NAME=PORT"),
    ("legacy=abc", "expected NAME=PORT"),
    ("other=5001", "no process named 'other'"),
    ("legacy=70000", "between 1 and 65535"),
])
def test_port_flag_errors(flag, message):
    with pytest.raises(StackConfigError, match=message):
        parse_port_overrides([flag], ["legacy"])


def test_bad_port_env(tmp_path):
    with pytest.raises(StackConfigError, match="STRANGLER_PORT_LEGACY='x' is not a port"):
        resolve(load_stack(write(tmp_path, GOOD)), var_dir=tmp_path, environ={"STRANGLER_PORT_LEGACY": "x"})


BASE = "processes:\n  a:\n    command: [run]\n"


@pytest.mark.parametrize("text, line, expected", [
    (BASE + "    port: lots\n", 4, "processes.a.port: Input should be a valid integer"),
    (BASE + "    port: 1\n    comand: [x]\n", 5, "processes.a.comand: Extra inputs are not permitted — fix: remove"),
    ("processes:\n  a:\n    port: 5000\n", 2, "processes.a.command: Field required — fix: add this key"),
    (BASE + "    port: 1\n    host: 0.0.0.0\n", 5, "is not a loopback address; use 127.0.0.1"),
    (BASE + "    port: 1\n    health: healthz\n", 5, "health must be a path starting with '/'"),
    (BASE + "    port: 1\n    restart: always\n", 5, "processes.a.restart: Input should be 'no' or 'on-failure'"),
    (BASE + "    port: 99999\n", 4, "less than or equal to 65535"),
    (BASE + "    port: 1\n    setup: [[]]\n", 5, "each setup step must be a non-empty argv list"),
    ("processes:\n  Bad Name:\n    command: [x]\n    port: 1\n", 1, "process name 'Bad Name' must be"),
    ("processes: {}\n", 1, "processes: Dictionary should have at least 1 item"),
    ("procs: {}\n", 1, "procs: Extra inputs"),
])
def test_validation_errors_name_file_and_line(tmp_path, text, line, expected):
    message = error_of(tmp_path, text)
    assert f"stack.yaml:{line}: " in message
    assert expected in message


def test_remote_host_allowed_only_when_asked(tmp_path):
    path = write(tmp_path, BASE + "    port: 1\n    host: 0.0.0.0\n    allow_remote_bind: true\n")
    assert resolve(load_stack(path), var_dir=tmp_path, environ={}).processes[0].host == "0.0.0.0"


def test_several_errors_are_all_listed(tmp_path):
    message = error_of(tmp_path, "processes:\n  a:\n    command: x\n    port: no\n")
    assert ":3: processes.a.command" in message and ":4: processes.a.port" in message


def test_invalid_yaml_names_the_line(tmp_path):
    message = error_of(tmp_path, "processes:\n  a:\n    command: [x\n    port: 1\n  b: ]\n")
    assert "invalid YAML" in message and "stack.yaml:" in message and "fix the syntax" in message


def test_not_a_mapping(tmp_path):
    assert "must be a mapping with a `processes:` key" in error_of(tmp_path, "- a\n- b\n")


def test_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(StackConfigError, match="--stack PATH / STRANGLER_STACK_FILE"):
        load_stack(tmp_path / "nope.yaml")


@pytest.mark.parametrize("arg, line, expected", [
    ("{prt}", 3, "unknown placeholder {prt} — use one of {python}"),
    ("{port:nope}", 3, "{port:nope} names no process; known: a"),
    ("${UNSET_VAR}", 3, "environment variable UNSET_VAR is not set — export it, or give a default"),
])
def test_placeholder_errors_point_at_the_argument(tmp_path, arg, line, expected):
    text = f'processes:\n  a:\n    command:\n      - run\n      - "{arg}"\n    port: 1\n'
    message = error_of(tmp_path, text)
    assert "stack.yaml:5: " in message and expected in message


def test_placeholder_error_in_env_points_at_its_key(tmp_path):
    text = BASE + "    port: 1\n    env:\n      A: ok\n      B: '{nope}'\n"
    assert "stack.yaml:7: unknown placeholder {nope}" in error_of(tmp_path, text)


def test_shipped_stack_file_is_valid():
    path = Path(__file__).resolve().parents[2] / "config" / "stack.yaml"
    plan = resolve(load_stack(path), var_dir=Path("var"), environ={})
    assert "legacy" in plan.names
    assert all(p.host == "127.0.0.1" for p in plan.processes)


def test_status_section_error_does_not_break_status(tmp_path):
    from strangler import status
    from strangler.settings import KitSettings

    def broken(settings):
        raise RuntimeError("route table unreadable")

    sections = (*status.SECTIONS, ("zz_broken", broken))
    results = {name: data for name, _, data in status.collect(KitSettings(var_dir=tmp_path), sections)}
    assert results["zz_broken"] == {"error": "RuntimeError: route table unreadable"}
    assert results["processes"]["running"] is False
    json.dumps(results)


def test_root_placeholder_is_gone_with_its_replacement_named(tmp_path):
    message = error_of(tmp_path, GOOD.replace("{project}", "{root}"))
    assert "proj/config/stack.yaml:8: {root} is no longer a placeholder" in message
    assert "{project}" in message and "{kit}/proxy/facade.py" in message


def test_project_placeholder_needs_a_project(tmp_path):
    path = write(tmp_path, GOOD, project=False)
    with pytest.raises(StackConfigError, match=r"\{project\} needs a project"):
        resolve(load_stack(path), var_dir=tmp_path / "var", environ={})
    other = tmp_path / "other"
    (other / "config").mkdir(parents=True)
    (other / "strangler.yaml").write_text("project: other\n")
    plan = resolve(load_stack(path), var_dir=tmp_path / "var", environ={}, project=other)  # explicit wins
    assert plan.processes[0].env["HOME_DIR"] == str(other.resolve()) and plan.processes[0].cwd == other.resolve()
