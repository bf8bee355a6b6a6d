"""The stack file (<project>/config/stack.yaml): which processes make up the running system, in start order.

Kept generic on purpose: a process is a command line, a loopback address, a health path and an optional
setup step. Validation errors name the file, the line and the fix, so a typo never becomes a traceback.
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from ruamel.yaml.comments import CommentedMap

from proxy.common.yamlio import YamlSyntaxError, expand_env, line_of, parse_yaml, plain
from strangler.gates import SPEC as KIT_GATES
from strangler.procs import is_loopback
from strangler.project import ENV as PROJECT_ENV
from strangler.project import KIT_DIR, MARKER
from strangler.secrets import pending_secrets, save_secrets

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
# {python} {bin} {host} {port} {var} {project} {kit} {port:NAME}; "${...}" is env expansion, not a placeholder.
PLACEHOLDER_RE = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z0-9_-]+))?\}")
KNOWN_PLACEHOLDERS = ("python", "bin", "host", "port", "var", "project", "kit", "port:NAME")
REMOVED_PLACEHOLDERS = {"root": "{project} (the project folder) or {kit} (the kit's folder, e.g. "
                                "{kit}/proxy/facade.py)"}


class StackConfigError(ValueError):
    """A stack file that cannot be used; the message is meant for the operator as-is."""


class ProcessSpec(BaseModel):
    """One supervised process as written in the stack file."""

    model_config = ConfigDict(extra="forbid")

    command: list[str] = Field(min_length=1, description="argv list, e.g. [\"{python}\", \"-m\", \"module\"]")
    allow_remote_bind: bool = False  # declared before `host` so the host check can see it
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    health: str | None = "/healthz"
    ready_timeout: float = Field(default=30.0, gt=0, le=600)
    env: dict[str, str] = Field(default_factory=dict)
    setup: list[list[str]] = Field(default_factory=list)
    setup_timeout: float = Field(default=600.0, gt=0, le=3600)
    cwd: str | None = None
    restart: Literal["no", "on-failure"] = "no"
    max_restarts: int = Field(default=3, ge=0, le=100)
    restart_backoff: float = Field(default=1.0, gt=0, le=60)

    @field_validator("host")
    @classmethod
    def _loopback_only(cls, host: str, info: ValidationInfo) -> str:
        if not is_loopback(host) and not info.data.get("allow_remote_bind", False):
            raise ValueError(f"host {host!r} is not a loopback address; use 127.0.0.1 (or set "
                             "`allow_remote_bind: true` on this process if you really mean to expose it)")
        return host

    @field_validator("health")
    @classmethod
    def _health_is_path(cls, health: str | None) -> str | None:
        if health is not None and not health.startswith("/"):
            raise ValueError(f"health must be a path starting with '/', e.g. /healthz (got {health!r})")
        return health

    @field_validator("setup")
    @classmethod
    def _setup_not_empty(cls, setup: list[list[str]]) -> list[list[str]]:
        if any(not step for step in setup):
            raise ValueError("each setup step must be a non-empty argv list, e.g. [\"{python}\", \"-m\", \"x\"]")
        return setup


class StackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    processes: dict[str, ProcessSpec] = Field(min_length=1)
    # env names every process gets; unset ones are generated per install (strangler.secrets)
    secrets: list[str] = Field(default_factory=list)

    @field_validator("processes", mode="before")
    @classmethod
    def _names(cls, processes: Any) -> Any:
        if isinstance(processes, Mapping):
            for name in processes:
                if not isinstance(name, str) or not NAME_RE.match(name):
                    raise ValueError(f"process name {name!r} must be lower-case letters, digits, '-' or '_', "
                                     "starting with a letter")
        return processes


_FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove it or fix its spelling",
    "int_parsing": "use a whole number",
    "int_type": "use a whole number",
    "float_parsing": "use a number",
    "list_type": "use a YAML list, e.g. [\"a\", \"b\"]",
    "dict_type": "use a YAML mapping (key: value)",
    "string_type": "quote the value so it is a string",
    "bool_parsing": "use true or false",
    "too_short": "give at least one item",
}


@dataclass
class LoadedStack:
    """A validated stack file plus what is needed to point later errors at the right line."""

    path: Path
    config: StackConfig
    tree: Any

    def line(self, *loc: str | int) -> int | None:
        return line_of(self.tree, loc)

    def where(self, *loc: str | int) -> str:
        line = self.line(*loc)
        return f"{self.path}:{line}" if line else str(self.path)

    def project_root(self) -> Path | None:
        """The project that holds this stack file: the first folder with strangler.yaml walking up from it."""
        folder = self.path.resolve().parent
        return next((f for f in (folder, *folder.parents) if (f / MARKER).is_file()), None)


def load_stack(path: Path) -> LoadedStack:
    """Read and validate a stack file; every problem becomes one StackConfigError naming file:line and fix."""
    if not path.is_file():
        raise StackConfigError(f"stack file {path} not found — create the project with `strangler init DIR "
                               "--legacy …`, or point to a stack file with --stack PATH / STRANGLER_STACK_FILE")
    try:
        tree = parse_yaml(path.read_text())
    except YamlSyntaxError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise StackConfigError(f"{where}: invalid YAML: {exc.problem} — fix the syntax at that line") from None
    if not isinstance(tree, CommentedMap):
        raise StackConfigError(f"{path}:1: the stack file must be a mapping with a `processes:` key")
    try:
        config = StackConfig.model_validate(plain(tree))
    except ValidationError as exc:
        lines: list[tuple[int, str]] = []
        for err in exc.errors():
            line = line_of(tree, err["loc"])
            dotted = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            fix = _FIXES.get(err["type"])
            text = f"  {path}:{line or 1}: {dotted}: {msg}" + (f" — fix: {fix}" if fix else "")
            lines.append((line or 1, text))
        raise StackConfigError(f"invalid stack file {path}:\n" + "\n".join(t for _, t in sorted(lines))) from None
    return LoadedStack(path=path, config=config, tree=tree)


@dataclass
class ResolvedProcess:
    """A process ready to run: placeholders filled, port overrides applied."""

    name: str
    argv: list[str]
    host: str
    port: int
    health: str | None
    ready_timeout: float
    env: dict[str, str]
    setup: list[list[str]]
    setup_timeout: float
    cwd: Path
    restart: str
    max_restarts: int
    restart_backoff: float
    log_path: Path

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def health_url(self) -> str | None:
        return None if self.health is None else self.url + self.health


@dataclass
class StackPlan:
    stack_file: Path
    root: Path  # the project folder (without a project: the directory `strangler up` ran in)
    var_dir: Path
    processes: list[ResolvedProcess] = field(default_factory=list)
    project: Path | None = None

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.processes]


def port_env_name(name: str) -> str:
    return "STRANGLER_PORT_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def parse_port_overrides(items: Sequence[str], known: Sequence[str]) -> dict[str, int]:
    """Parse `--port NAME=PORT` flags."""
    result: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise StackConfigError(f"--port {item!r}: expected NAME=PORT, e.g. --port legacy=5001")
        if name not in known:
            raise StackConfigError(f"--port {item!r}: no process named {name!r}; known: {', '.join(known)}")
        port = int(value)
        if not 1 <= port <= 65535:
            raise StackConfigError(f"--port {item!r}: port must be between 1 and 65535")
        result[name] = port
    return result


def effective_ports(stack: LoadedStack, overrides: Mapping[str, int], environ: Mapping[str, str]) -> dict[str, int]:
    """Port per process: `--port` flag, else STRANGLER_PORT_<NAME>, else the stack file."""
    ports: dict[str, int] = {}
    for name, spec in stack.config.processes.items():
        env_value = environ.get(port_env_name(name))
        if name in overrides:
            ports[name] = overrides[name]
        elif env_value:
            if not env_value.isdigit() or not 1 <= int(env_value) <= 65535:
                raise StackConfigError(f"{port_env_name(name)}={env_value!r} is not a port — use 1-65535")
            ports[name] = int(env_value)
        else:
            ports[name] = spec.port
    return ports


def _substitute(text: str, values: Mapping[str, str], ports: Mapping[str, int], environ: Mapping[str, str],
                where: str) -> str:
    def placeholder(match: re.Match[str]) -> str:
        key, arg = match.group(1), match.group(2)
        if key == "port" and arg is not None:
            if arg not in ports:
                raise StackConfigError(f"{where}: {{port:{arg}}} names no process; known: {', '.join(ports)} "
                                       "— fix the name")
            return str(ports[arg])
        if arg is None and key in values:
            return values[key]
        if arg is None and key in REMOVED_PLACEHOLDERS:
            raise StackConfigError(f"{where}: {{{key}}} is no longer a placeholder — use "
                                   f"{REMOVED_PLACEHOLDERS[key]}")
        if key == "project" and arg is None:
            raise StackConfigError(f"{where}: {{project}} needs a project, and no {MARKER} is in the stack "
                                   "file's folder or its parents — pass --project DIR, or use an absolute path")
        raise StackConfigError(f"{where}: unknown placeholder {match.group(0)} — use one of "
                               + ", ".join("{" + p + "}" for p in KNOWN_PLACEHOLDERS))

    def unset(name: str) -> StackConfigError:
        return StackConfigError(f"{where}: environment variable {name} is not set — export it, or give a "
                                f"default: ${{{name}:-value}}")

    return expand_env(PLACEHOLDER_RE.sub(placeholder, text), unset, environ)


def resolve(stack: LoadedStack, *, var_dir: Path, names: Sequence[str] = (),
            port_overrides: Mapping[str, int] | None = None,
            environ: Mapping[str, str] | None = None, project: Path | None = None) -> StackPlan:
    """Fill placeholders for the selected processes (all when `names` is empty), keeping file order.

    {project} is `project`, else the project holding the stack file; processes run there unless they set
    `cwd:` (without any project: in the current directory)."""
    environ = os.environ if environ is None else environ
    known = list(stack.config.processes)
    # generated secrets are written only once every placeholder resolved: a typo leaves no var/secrets.env
    secret_values, to_save = pending_secrets(stack.config.secrets, var_dir, environ)
    environ = {**environ, **secret_values}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise StackConfigError(f"no process named {', '.join(map(repr, unknown))} in {stack.path}; "
                               f"known: {', '.join(known)}")
    ports = effective_ports(stack, port_overrides or {}, environ)
    project = project.resolve() if project is not None else stack.project_root()
    var_dir, root = var_dir.resolve(), project or Path.cwd()
    plan = StackPlan(stack_file=stack.path, root=root, var_dir=var_dir, project=project)
    # every process learns the project, the var dir and the flip gates the façade registers (proxy.gates)
    common = {"PYTHONUNBUFFERED": "1", "STRANGLER_VAR_DIR": str(var_dir), "STRANGLER_GATES": KIT_GATES,
              **({PROJECT_ENV: str(project)} if project else {})}
    for name, spec in stack.config.processes.items():
        if names and name not in names:
            continue
        values = {"python": sys.executable, "bin": str(Path(sys.executable).parent), "host": spec.host,
                  "port": str(ports[name]),
                  "var": str(var_dir), "kit": str(KIT_DIR), **({"project": str(project)} if project else {})}

        def sub(text: str, *loc: str | int, values: dict[str, str] = values, name: str = name) -> str:
            return _substitute(text, values, ports, environ, stack.where("processes", name, *loc))

        # every process learns every port (STRANGLER_PORT_<NAME>), e.g. so a route table can say
        # url: "http://127.0.0.1:${STRANGLER_PORT_CATALOG:-8101}" and follow --port overrides
        env = {**common, **secret_values,
               **{port_env_name(other): str(port) for other, port in ports.items()}}
        env.update({key: sub(value, "env", key) for key, value in spec.env.items()})
        plan.processes.append(ResolvedProcess(
            name=name,
            argv=[sub(arg, "command", i) for i, arg in enumerate(spec.command)],
            host=spec.host, port=ports[name], health=spec.health, ready_timeout=spec.ready_timeout,
            env=env,
            setup=[[sub(arg, "setup", s, i) for i, arg in enumerate(step)] for s, step in enumerate(spec.setup)],
            setup_timeout=spec.setup_timeout,
            cwd=Path(sub(spec.cwd, "cwd")) if spec.cwd else root,
            restart=spec.restart, max_restarts=spec.max_restarts, restart_backoff=spec.restart_backoff,
            log_path=var_dir / "logs" / f"{name}.log",
        ))
    save_secrets(var_dir, to_save)
    return plan

