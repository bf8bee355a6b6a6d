"""The operator CLI's settings: the project folder plus the STRANGLER_* variables that name files.

Built once per `strangler` invocation (the root callback, from `--project`) and kept on the root Typer
context; `get_settings()` returns that object, or outside a command builds a fresh one from the environment
(nothing is cached process-wide, so a test or a second invocation never sees stale values).

Explicit paths win over the project: STRANGLER_VAR_DIR, STRANGLER_STACK_FILE, STRANGLER_ROUTES_FILE,
STRANGLER_ROUTES_TEMPLATE, STRANGLER_LOAD_MIX, STRANGLER_FOOTPRINT_CONFIG, STRANGLER_MIGRATIONS_FILE. A
file that is neither given explicitly nor found in a project raises ProjectNotFound (exit 2, one line), so
no command falls back to the kit's demo files.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from proxy.common.files import atomic_write
from strangler.project import ENV as PROJECT_ENV
from strangler.project import Project, ProjectError, ProjectNotFound, find_project

try:  # typer >= 0.20 runs its own copy of click; its contexts live there
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - typer on the click package
    from click import get_current_context  # type: ignore[no-redef]

# attribute -> (environment variable, the Project attribute it defaults to)
FILES = {
    "var_dir": ("STRANGLER_VAR_DIR", "var_dir"),
    "stack_file": ("STRANGLER_STACK_FILE", "stack_file"),
    "routes_template": ("STRANGLER_ROUTES_TEMPLATE", "routes_template"),
    "mix_file": ("STRANGLER_LOAD_MIX", "mix_file"),
    "footprint_file": ("STRANGLER_FOOTPRINT_CONFIG", "footprint_file"),
    "migrations_file": ("STRANGLER_MIGRATIONS_FILE", "migrations_file"),
}
ROUTES_FILE_ENV = "STRANGLER_ROUTES_FILE"

# Every STRANGLER_* variable of the kit and the demo, in one place (tests/unit/test_projects.py fails on an
# unlisted one). Paths are read here (FILES); the others where they act — the data plane (proxy/) and the apps
# cannot import the CLI, so they get them from the environment the launcher (`strangler up`) sets.
VARIABLES = {
    "STRANGLER_PROJECT": "the project folder (else walk up from the current directory to strangler.yaml)",
    "STRANGLER_VAR_DIR": "runtime folder (default: the project's var/); `strangler up` sets it for every process",
    "STRANGLER_STACK_FILE": "stack file (default: the project's config/stack.yaml)",
    "STRANGLER_ROUTES_FILE": "live route table (default: <var>/routes.yaml)",
    "STRANGLER_ROUTES_TEMPLATE": "route-table template `routes init` copies (default: config/routes.yaml)",
    "STRANGLER_LOAD_MIX": "request mix file (default: the project's config/load-mix.yaml)",
    "STRANGLER_FOOTPRINT_CONFIG": "footprint config (default: the project's config/footprint.yaml)",
    "STRANGLER_MIGRATIONS_FILE": "migrations file (default: the project's config/migrations.yaml)",
    "STRANGLER_PORT_": "STRANGLER_PORT_<NAME>: a stack process's port (set for every process by `strangler up`)",
    "STRANGLER_GATES": "flip gates the façade registers, NAME=module:function,… (set by `strangler up`)",
    "STRANGLER_ADMIN_PORT": "the façade's admin API port",
    "STRANGLER_PORT_RANGE": ("LOW-HIGH: where the kit chooses free listening ports (`init`, `add`, benchmarks; "
                             "default 10000-32767, below the ephemeral range); the test suite gives each "
                             "parallel worker its own slice"),
    "STRANGLER_ADMIN_TOKEN": "bearer token of the admin API (secret; generated into var/secrets.env)",
    "STRANGLER_SHADOW_KEY": "HMAC key signing dry-run shadow requests (secret; generated into var/secrets.env)",
    "STRANGLER_IDENTITY_KEY": "HMAC key (>= 32 chars) signing the remote identity the façade resolves for the "
                              "services (secret; no default; a stack secret)",
    "STRANGLER_SHADOW_WINDOW_S": "how old a signed dry-run request may be (services)",
    "STRANGLER_SHADOW_PROFILE": "folder where each shadow worker writes a cProfile of its run (unset: off; "
                                "load/bench_shadow.py --profile sets it)",
    "STRANGLER_STORE_URL": "shared PostgreSQL store for route table, ledger and parity (several façades)",
    "STRANGLER_PARITY_STORE": "parity store file or URL (default: <var>/parity.db)",
    "STRANGLER_ACTOR": "who flips, for the ledger (default: the OS user)",
    "STRANGLER_SQL_CAPTURE": "file the SQL capture hook appends to (unset: capture off)",
    "STRANGLER_SYNC_MAX_LAG_S": "sync lag above which the data-ownership gate refuses",
    "STRANGLER_SYNC_STALE_S": "sync heartbeat age above which the sync counts as stopped",
    "STRANGLER_DB_BUSY_TIMEOUT_MS": "SQLite busy timeout of the services",
    "STRANGLER_LOAD_MIX_NAME": "which mix of the mix file (Locust)",
    "STRANGLER_LOAD_MAX_REQUESTS": "request cap of a load run (Locust)",
    "STRANGLER_LOAD_WAIT": "seconds each Locust user waits between requests",
    "STRANGLER_MAX_FAIL_RATIO": "load/parity threshold: failure fraction",
    "STRANGLER_MAX_P95_MS": "load threshold: p95 latency",
    "STRANGLER_MAX_MISMATCH_RATE": "parity threshold: mismatch fraction",
    "STRANGLER_PARITY_REFERENCE": "parity run: the reference (legacy) base URL (set by `parity run`)",
    "STRANGLER_PARITY_FEATURE": "parity run: the feature whose rules apply (set by `parity run`)",
    "STRANGLER_PARITY_NOISE_RATE": ("parity run: share of requests sent to the reference twice after each "
                                    "route's first 5 (default: the feature's parity.noise_sample_rate)"),
    "STRANGLER_PARITY_WRITES": "parity run: also replay non-safe methods",
    "STRANGLER_REPLAY_": "STRANGLER_REPLAY_<HEADER>: a redacted header's value when replaying an exported mismatch",
    "STRANGLER_TEST_PG_URL": "PostgreSQL URL for the tests and benchmarks that need one",
}


class KitSettings:
    """Where the CLI reads and writes: explicit paths first, else the project's, else ProjectNotFound."""

    def __init__(self, project: Project | None = None, *, project_error: ProjectError | None = None,
                 routes_file: Path | None = None, **paths: Path | None) -> None:
        unknown = set(paths) - set(FILES)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        self.project = project
        self.project_error = project_error
        self.routes_file = routes_file  # STRANGLER_ROUTES_FILE; default: the live table <var_dir>/routes.yaml
        self._paths = {name: Path(value) for name, value in paths.items() if value is not None}

    @staticmethod
    def known(name: str) -> bool:
        return name in VARIABLES or any(name.startswith(p) for p in VARIABLES if p.endswith("_"))

    @classmethod
    def load(cls, project_dir: Path | None = None, env: Mapping[str, str] | None = None,
             cwd: Path | None = None) -> KitSettings:
        """From `--project` (else STRANGLER_PROJECT, else walk-up) and the environment. A missing project is
        remembered, not raised: commands given explicit paths work without one."""
        env = os.environ if env is None else env
        project, error = None, None
        try:
            project = find_project(project_dir, env, cwd)
        except ProjectError as exc:
            if project_dir is not None or env.get(PROJECT_ENV):
                raise  # a project named explicitly must exist
            error = exc
        paths = {name: Path(env[var]) for name, (var, _) in FILES.items() if env.get(var)}
        routes_file = Path(env[ROUTES_FILE_ENV]) if env.get(ROUTES_FILE_ENV) else None
        return cls(project, project_error=error, routes_file=routes_file, **paths)

    def require_project(self) -> Project:
        if self.project is None:
            raise self.project_error or ProjectNotFound(
                "No strangler project given, and this path has no explicit value. Fix: pass --project DIR, or "
                "set the STRANGLER_* variable that names the file")
        return self.project

    def _path(self, name: str) -> Path:
        if name in self._paths:
            return self._paths[name]
        return getattr(self.require_project(), FILES[name][1])

    var_dir = property(lambda self: self._path("var_dir"))
    stack_file = property(lambda self: self._path("stack_file"))
    routes_template = property(lambda self: self._path("routes_template"))
    mix_file = property(lambda self: self._path("mix_file"))
    footprint_file = property(lambda self: self._path("footprint_file"))
    migrations_file = property(lambda self: self._path("migrations_file"))

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    def routes_path(self) -> Path:
        """The live route table that flips edit: STRANGLER_ROUTES_FILE, else <var_dir>/routes.yaml, created
        from the project's template (config/routes.yaml) on first use so the template itself is never edited."""
        if self.routes_file is not None:
            return self.routes_file
        live = self.var_dir / "routes.yaml"
        if not live.exists() and self.routes_template.is_file():
            init_routes(self.routes_template, live)
        return live


def init_routes(template: Path, live: Path, *, force: bool = False) -> bool:
    """Copy the template to the live table (atomically, fsynced); False when the live table exists and not
    `force`."""
    if live.exists() and not force:
        return False
    atomic_write(live, template.read_bytes())
    return True


def get_settings() -> KitSettings:
    """The running command's settings (root context object, built from --project), else fresh ones."""
    ctx = get_current_context(silent=True)
    if ctx is not None:
        root = ctx.find_root()
        if not isinstance(root.obj, KitSettings):
            root.obj = KitSettings.load()
        return root.obj
    return KitSettings.load()
