"""Project folders: where a team's migration lives (its stack file, route template, mixes, footprint and
migration config, and var/ for runtime files), found like git finds a repository.

`strangler --project DIR`, else STRANGLER_PROJECT, else the first folder holding `strangler.yaml` walking up
from the current directory. The kit checkout's root is itself a project (the demo), so the walkthrough's
commands run from there unchanged; the kit never falls back to the demo's files from anywhere else.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from proxy.common.yamlio import YamlSyntaxError, parse_yaml

MARKER = "strangler.yaml"
ENV = "STRANGLER_PROJECT"
# The folder holding the kit's packages (strangler/, proxy/, load/): `{kit}` in stack files, so
# `-s {kit}/proxy/facade.py` works from a checkout and from an installed wheel alike.
KIT_DIR = Path(__file__).resolve().parent.parent
INIT_HINT = "create one with `strangler init DIR --legacy …`"


class ProjectError(Exception):
    """A project that cannot be used; the CLI prints it as one line and exits 2 (strangler.cli.app)."""


class ProjectNotFound(ProjectError):
    pass


def _config_file(name: str, doc: str | None = None) -> property:
    """A project file under config/, read as an attribute (`project.stack_file`)."""
    return property(lambda project: project.config(name), doc=doc or f"<project>/config/{name}")


@dataclass(frozen=True)
class Project:
    root: Path
    name: str = ""

    def config(self, name: str) -> Path:
        return self.root / "config" / name

    @property
    def var_dir(self) -> Path:
        return self.root / "var"

    stack_file = _config_file("stack.yaml")
    routes_template = _config_file("routes.yaml", "The route table as written by the team; flips edit the live "
                                                  "copy `var/routes.yaml`.")
    mix_file = _config_file("load-mix.yaml")
    footprint_file = _config_file("footprint.yaml")
    migrations_file = _config_file("migrations.yaml")


def load_project(root: Path) -> Project:
    """The project at `root` (which must hold the marker); ProjectError if the marker is not usable."""
    root = root.resolve()
    marker = root / MARKER
    if not marker.is_file():
        raise ProjectNotFound(f"No strangler project at {root} (no {MARKER} there). "
                              f"Fix: pass the folder that holds {MARKER}, or {INIT_HINT}.")
    try:
        data = parse_yaml(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlSyntaxError) as exc:
        raise ProjectError(f"{marker}: not readable YAML ({str(exc).splitlines()[0]}). "
                           f"Fix: write it as `project: NAME`.") from None
    name = data.get("project") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise ProjectError(f"{marker}: needs `project: NAME` (a non-empty name). Fix: add that line.")
    return Project(root=root, name=name.strip())


def find_project(explicit: Path | None = None, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> Project:
    """--project DIR, else $STRANGLER_PROJECT, else walk up from `cwd` to the first folder with the marker."""
    env = os.environ if env is None else env
    chosen = explicit if explicit is not None else (Path(env[ENV]) if env.get(ENV) else None)
    if chosen is not None:
        return load_project(Path(chosen).expanduser())
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / MARKER).is_file():
            return load_project(folder)
    raise ProjectNotFound(f"No strangler project here (no {MARKER} in {start} or its parents). "
                          f"Fix: cd into your project, pass --project DIR, or {INIT_HINT}.")


def demo_project() -> Project:
    """The demo project is the kit checkout's root; an installed kit has none."""
    if not (KIT_DIR / MARKER).is_file():
        raise ProjectNotFound(f"The demo project is not here ({KIT_DIR} has no {MARKER}: the installed kit ships "
                              "without the demo). Fix: run `strangler demo` from a checkout of the kit.")
    return load_project(KIT_DIR)
