"""Project folders: found from --project, STRANGLER_PROJECT or by walking up to strangler.yaml; every default
file resolves against the project; outside one a command says so (exit 2, one line, nothing written); explicit
paths work without one; the kit's demo config/ is never read for another project."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import strangler.cli.analyze  # registers the commands used below on the root app
import strangler.cli.load
import strangler.cli.migrate
import strangler.cli.routes
import strangler.cli.stack  # noqa: F401
from strangler.cli.app import app
from strangler.project import KIT_DIR, MARKER, ProjectError, ProjectNotFound, find_project
from strangler.settings import KitSettings

TEMPLATE = """\
upstreams:
  legacy: {url: "http://127.0.0.1:5000"}
  beds: {url: "http://127.0.0.1:8201"}
default: legacy
features:
  beds:
    state: legacy
    target: beds
    routes:
      - path: /beds/{id}
"""
SCRIPT = ("-- module: beds\nSELECT * FROM BEDS;\nUPDATE PLANTS SET N = 1;\n"
          "-- module: plants\nINSERT INTO PLANTS VALUES (1);\n")


def make_project(root: Path, name: str = "greenhouse") -> Path:
    (root / "config").mkdir(parents=True)
    (root / MARKER).write_text(f"project: {name}\n")
    (root / "config" / "routes.yaml").write_text(TEMPLATE)
    (root / "config" / "footprint.yaml").write_text("modules:\n  plants: [PLANTS]\n")
    return root


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder outside any project, with no STRANGLER_* path set."""
    monkeypatch.delenv("STRANGLER_VAR_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "400", **(env or {})})


def files_under(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def test_found_from_flag_env_and_walk_up(tmp_path: Path) -> None:
    one, two = make_project(tmp_path / "one", "one"), make_project(tmp_path / "two", "two")
    deep = one / "src" / "app"
    deep.mkdir(parents=True)
    assert find_project(env={}, cwd=deep).root == one.resolve()  # like git: the first marker upwards
    assert find_project(env={"STRANGLER_PROJECT": str(two)}, cwd=deep).name == "two"  # env beats walk-up
    assert find_project(one, env={"STRANGLER_PROJECT": str(two)}, cwd=deep).name == "one"  # flag beats env
    project = find_project(env={}, cwd=deep)
    assert (project.stack_file, project.var_dir) == (one.resolve() / "config" / "stack.yaml", one.resolve() / "var")
    assert project.mix_file.name == "load-mix.yaml" and project.migrations_file.name == "migrations.yaml"


def test_not_found_and_bad_markers_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound) as info:
        find_project(env={}, cwd=tmp_path)
    assert str(info.value) == (f"No strangler project here (no strangler.yaml in {tmp_path.resolve()} or its "
                               "parents). Fix: cd into your project, pass --project DIR, or create one with "
                               "`strangler init DIR --legacy …`.")
    (tmp_path / MARKER).write_text("name: x\n")
    with pytest.raises(ProjectError, match=r"needs `project: NAME`"):
        find_project(env={}, cwd=tmp_path)


def test_outside_a_project_exit_2_one_line_nothing_written(elsewhere: Path) -> None:
    before = files_under(elsewhere)
    for args in (["routes", "init"], ["routes"], ["up"], ["status"], ["ledger"], ["analyze", "run"],
                 ["migrate", "status"]):
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: No strangler project here"), (args, result.stderr)
    assert files_under(elsewhere) == before
    missing = invoke("--project", str(elsewhere / "nope"), "routes")
    assert missing.exit_code == 2 and "No strangler project at" in missing.stderr


def test_routes_init_from_any_folder_inside_the_project(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(elsewhere / "gh")
    deep = project / "src"
    deep.mkdir()
    monkeypatch.chdir(deep)
    result = invoke("routes", "init")
    assert result.exit_code == 0, result.output
    live = project.resolve() / "var" / "routes.yaml"
    assert live.read_text() == TEMPLATE and f"created {live}" in result.stdout


@pytest.mark.parametrize("how", ["flag", "env"])
def test_project_named_by_flag_or_env(elsewhere: Path, how: str) -> None:
    project = make_project(elsewhere / "gh")
    args, env = (["--project", str(project)], None) if how == "flag" else ([], {"STRANGLER_PROJECT": str(project)})
    result = invoke(*args, "routes", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert list(json.loads(result.stdout)["features"]) == ["beds"]


def test_explicit_paths_work_without_a_project(elsewhere: Path) -> None:
    table = elsewhere / "table.yaml"
    table.write_text(TEMPLATE)
    assert invoke("routes", "check", str(table)).exit_code == 0
    assert invoke("routes", "--routes", str(table)).exit_code == 0
    assert invoke("routes", env={"STRANGLER_ROUTES_FILE": str(table)}).exit_code == 0
    settings = KitSettings.load(env={"STRANGLER_VAR_DIR": str(elsewhere / "v")}, cwd=elsewhere)
    assert settings.var_dir == elsewhere / "v" and settings.project is None


def test_explicit_paths_win_over_the_project(tmp_path: Path) -> None:
    project = make_project(tmp_path / "gh")
    settings = KitSettings.load(env={"STRANGLER_LOAD_MIX": "/x/mix.yaml", "STRANGLER_VAR_DIR": "/x/var"},
                                cwd=project)
    assert (settings.mix_file, settings.var_dir) == (Path("/x/mix.yaml"), Path("/x/var"))
    assert settings.footprint_file == project.resolve() / "config" / "footprint.yaml"


def test_a_foreign_project_never_reads_the_demo_config(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the kit's own folder (where the demo's config/ lives) with --project pointing elsewhere."""
    project = make_project(elsewhere / "gh")
    (project / "q.sql").write_text(SCRIPT)
    monkeypatch.chdir(KIT_DIR)

    def report(root: Path) -> str:
        result = invoke("--project", str(root), "analyze", "run", str(project / "q.sql"), "--json", "--no-save")
        assert result.exit_code == 0, result.output
        return result.stdout

    demo, foreign = report(KIT_DIR), report(project)
    assert "PRODUCTS" in demo and '"catalog"' in demo  # the demo's footprint config is what adds these
    assert "PRODUCTS" not in foreign and '"catalog"' not in foreign
    assert json.loads(foreign)["tables"]["PLANTS"]["owner"] == "plants"  # the project's own config

    mix = invoke("--project", str(project), "load", "--host", "http://127.0.0.1:9")
    assert mix.exit_code != 0 and str(project.resolve() / "config" / "load-mix.yaml") in mix.output
    migrations = invoke("--project", str(project), "migrate", "status")
    assert migrations.exit_code == 2 and str(project.resolve() / "config" / "migrations.yaml") in migrations.output


def test_demo_uses_the_kit_project_from_anywhere_and_keeps_its_files_in_var_dir(
        elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`strangler demo` run from another project: the document's shell works in the kit's demo project, and
    --var-dir X holds everything the run writes (transcript included)."""
    import strangler.cli.demo  # noqa: F401 - registers `demo`
    from strangler.procs import free_port
    from strangler.stack import load_stack, port_env_name

    project = make_project(elsewhere / "gh")
    monkeypatch.chdir(project)
    env = {"STRANGLER_PROJECT": str(project), "STRANGLER_ADMIN_PORT": str(free_port())}
    env.update({port_env_name(name): str(free_port())  # the demo's ports may be taken on a busy machine
                for name in load_stack(KIT_DIR / "config" / "stack.yaml").config.processes})
    document = elsewhere / "doc.md"
    document.write_text("# t\n\n```bash\necho \"project=$STRANGLER_PROJECT pwd=$PWD\"\nstrangler routes check\n```\n"
                        f"<!-- expect: project={KIT_DIR} pwd={KIT_DIR}$ -->\n<!-- expect: OK -->\n")
    var_dir = elsewhere / "x"
    before = files_under(project)
    result = invoke("demo", "--document", str(document), "--var-dir", str(var_dir), env=env)
    assert result.exit_code == 0, result.output
    assert (var_dir / "transcript.log").is_file() and files_under(project) == before
    assert not (elsewhere / "demo-transcript.log").exists()


def test_every_strangler_variable_is_known_to_the_settings() -> None:
    """One place lists every STRANGLER_* variable the kit and the demo read (strangler.settings.VARIABLES)."""
    import re

    pattern = re.compile(r"(?<![A-Za-z0-9_])STRANGLER_[A-Z0-9_]+")
    folders = ("strangler", "proxy", "load", "adapter/strangler_app", "new_services", "acl", "legacy_monolith")
    found = {(name, str(path.relative_to(KIT_DIR))) for folder in folders for path in (KIT_DIR / folder).rglob("*.py")
             for name in pattern.findall(path.read_text(encoding="utf-8"))}
    unknown = sorted(f"{name} ({where})" for name, where in found if not KitSettings.known(name))
    assert not unknown, "add these to strangler.settings.VARIABLES: " + ", ".join(unknown)
    assert len({name for name, _ in found}) > 20  # the scan does see the kit's variables
