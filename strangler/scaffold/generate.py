"""The files `strangler init` writes: a project (strangler.yaml, config/*.yaml, .gitignore for var/) that
`strangler up -d` runs unchanged — the legacy app behind the façade, every route still served by legacy.

Files are rendered as text (so each carries comments that explain it) and checked with the kit's own
validators before anything is written; JSON string literals are valid YAML, so values are quoted with json.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from strangler.project import MARKER
from strangler.scaffold import proposals
from strangler.scaffold.discover import Discovery, Route, ScaffoldError
from strangler.stack import KNOWN_PLACEHOLDERS, PLACEHOLDER_RE

INT_RANGE = (1, 100)


@dataclass
class Plan:
    root: Path
    name: str
    legacy: list[str]           # argv with {port}
    legacy_cwd: str | None      # where the legacy command runs ({project}-relative when inside it)
    health: str
    ports: dict[str, int]       # legacy, facade, admin
    found: Discovery


def parse_command(command: str, option: str = "--legacy", processes: tuple[str, ...] = ()) -> list[str]:
    """The command of `option` as argv; it must bind to {port} and use only known placeholders
    ({port:NAME} of one of `processes`)."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ScaffoldError(f"{option} {command!r} is not a command line ({exc}). Fix: quote it as one "
                            f"argument, e.g. {option} \"gunicorn -b 127.0.0.1:{{port}} wsgi:app\"") from None
    if not argv:
        raise ScaffoldError(f"{option} is empty. Fix: give the command that starts the app, with {{port}}")
    known = {p for p in KNOWN_PLACEHOLDERS if p != "port:NAME"}
    for arg in argv:
        for match in PLACEHOLDER_RE.finditer(arg):
            other = match.group(1) == "port" and match.group(2) in processes
            if not other and (match.group(2) is not None or match.group(1) not in known):
                raise ScaffoldError(f"{option} uses unknown placeholder {match.group(0)}. Fix: use "
                                    + ", ".join("{" + p + "}" for p in sorted(known)) + " (e.g. {port})")
    if not any("{port}" in arg for arg in argv):
        raise ScaffoldError(f"{option} {command!r} has no {{port}}. Fix: let the app bind the port the kit "
                            "chooses, e.g. gunicorn -b 127.0.0.1:{port} wsgi:app")
    return argv


def files(plan: Plan) -> dict[str, str]:
    """Relative path -> text of every file init writes."""
    return {
        MARKER: f"# A strangler project (the kit finds it by this file, like git finds .git).\nproject: "
                f"{json.dumps(plan.name)}\n",
        ".gitignore": "# runtime files of `strangler up` (logs, live route table, secrets, ledger)\nvar/\n",
        "config/stack.yaml": stack(plan),
        "config/routes.yaml": routes(plan),
        "config/load-mix.yaml": load_mix(plan),
        "config/footprint.yaml": footprint(plan),
        "config/migrations.yaml": MIGRATIONS,
    }


def _flow(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def stack(plan: Plan) -> str:
    cwd = f"    cwd: {json.dumps(plan.legacy_cwd)}   # where the command runs (default: the project folder)\n" \
        if plan.legacy_cwd else ""
    facade = ["{bin}/mitmdump", "--mode", "reverse:http://127.0.0.1:{port:legacy}@{host}:{port}",
              "--set", "connection_strategy=lazy", "--set", "keep_host_header=true", "--set", "flow_detail=0",
              "--set", "termlog_verbosity=warn", "--set", "confdir={var}/mitmproxy", "-s", "{kit}/proxy/facade.py",
              "--set", "strangler_routes=${STRANGLER_ROUTES_FILE:-{var}/routes.yaml}",
              "--set", f"strangler_admin_port=${{STRANGLER_ADMIN_PORT:-{plan.ports['admin']}}}",
              "--set", "strangler_access_log={var}/logs/access.jsonl"]
    return f"""\
# The processes `strangler up` runs, in start order (each must answer its health path before the next starts).
# Written by `strangler init`; edit it freely (init never overwrites it without --force).
# Placeholders: {{python}} and {{bin}} (the kit's interpreter and its folder), {{host}}, {{port}}, {{var}} (this
# project's var/), {{project}} (this folder), {{kit}} (where the kit is installed), {{port:NAME}} (another
# process's port); ${{ENV:-default}} reads the environment.
# Ports were free when init ran; override one with `strangler up --port legacy=5001` or STRANGLER_PORT_LEGACY.
# Add a service with `strangler add service NAME --command "... {{port}} ..." --health /healthz`.
secrets: [STRANGLER_SHADOW_KEY, STRANGLER_ADMIN_TOKEN]   # generated once into var/secrets.env (0600)

processes:
  legacy:
    # your monolith, as given to `strangler init --legacy`
    command: {_flow(plan.legacy)}
{cwd}    port: {plan.ports['legacy']}
    health: {json.dumps(plan.health)}           # GET must answer < 500 within ready_timeout seconds
    ready_timeout: 60
    restart: on-failure
    max_restarts: 3

  # The façade: mitmdump in reverse mode with the kit's addons. Clients talk to this port only. Its admin
  # API (flips, routes, ledger, metrics; bearer token STRANGLER_ADMIN_TOKEN) listens on the admin port.
  facade:
    command: {_flow(facade)}
    port: {plan.ports['facade']}
    health: {json.dumps(plan.health)}           # answered through the façade by legacy
    # setup: the live route table var/routes.yaml, from config/routes.yaml
    setup:
      - ["{{python}}", "-m", "strangler", "routes", "init"]
    ready_timeout: 30
    restart: on-failure
    max_restarts: 3
"""


def routes(plan: Plan) -> str:
    found = plan.found
    block = proposals.render(found.features)
    intro = (f"# Found in the {found.source}: one proposed feature per module, listed below. A feature needs a\n"
             "# `target` (the service that will serve it; never legacy), so until that service exists each one\n"
             "# stays commented out and legacy (the default) serves its routes. When the service runs:\n"
             "#   strangler add service NAME --command \"... {port} ...\" --health /healthz\n"
             "#   strangler add feature FEATURE --target NAME    # takes the FEATURE's routes from this list\n"
             "# (or move a block under `features:` by hand, drop the `{}`, set its target, and run\n"
             "# `strangler routes check`).\n") if block else \
        ("# Add a feature when its service runs: strangler add feature NAME --target SERVICE --path /api/x\n")
    legacy_only = "".join(f"#   {p}\n" for p in found.legacy_only[:20])
    return f"""\
# Route table template of {plan.name} (validated by `strangler routes check`). `strangler up` copies it to
# var/routes.yaml, the live table the façade hot-reloads and `strangler flip` edits (comments are kept).

# Where traffic can go (loopback only unless `allow_remote_upstreams: true`).
upstreams:
  # The monolith being strangled: serves everything no feature claims.
  legacy:
    url: "http://127.0.0.1:${{STRANGLER_PORT_LEGACY:-{plan.ports['legacy']}}}"
    health: {json.dumps(plan.health)}

# Requests that match no feature's route go here.
default: legacy

# Canary cohorts: the same key lands on the same side for every feature.
cohort:
  header: X-Strangler-Cohort

# States: legacy -> shadow -> canary (with canary_percent) -> new -> retired (see the kit's docs/explanation/states.md).
features: {{}}

{intro}{("# Routes of no module, always served by legacy:" + chr(10) + legacy_only) if legacy_only else ""}{block}"""


def _mix_entry(feature: str, route: Route) -> str:
    params = {}
    for name, kind in route.params.items():
        params[name] = f"{{range: [{INT_RANGE[0]}, {INT_RANGE[1]}]}}" if kind == "int" else \
            "{range: [1, 100]}" if kind == "float" else '{choice: ["EDIT-ME"]}'
    shown = ", ".join(f"{k}: {v}" for k, v in params.items())
    return (f"    - name: {json.dumps(f'{feature}: GET {route.path}')}\n"
            f"      path: {json.dumps(route.path.replace(':path}', '}'))}\n"
            + (f"      params: {{{shown}}}   # EDIT: values that exist in your data\n" if params else "")
            + f"      weight: 1\n      expect: {'[200, 404]' if params else '[200]'}\n")


def load_mix(plan: Plan) -> str:
    entries = [_mix_entry(f, r) for f, routes in plan.found.features.items() for r in routes if "GET" in r.methods]
    if not entries:
        entries = [f"    - name: health\n      path: {json.dumps(plan.health)}\n      weight: 1\n"]
    return f"""\
# Request mixes for `strangler load` and `strangler parity run` (format: the kit's docs/how-to/parity-and-load.md).
# Generated by `strangler init` from the GET routes it found; `strangler parity run --feature F` keeps only
# the requests F's routes claim. EDIT the parameter ranges and choices to values your data has.
mixes:
  read:
{"".join(entries)}"""


def footprint(plan: Plan) -> str:
    found = plan.found
    how = "the tables the app maps next to each blueprint, or named like it" if found.known_tables else \
        "the module's name (singular/plural)"
    modules = "".join(f"  {json.dumps(f)}: {_flow(tables)}   # GUESS\n" for f, tables in found.tables.items())
    features = "".join(f"  {json.dumps(f)}: [{json.dumps(f)}]\n" for f in found.features)
    return f"""\
# SQL footprint analysis (`strangler analyze`). Written by `strangler init`: the table owners below are
# GUESSES from {how}.
# Check them against `strangler analyze` and fix them: a wrong owner makes the coupling report come out
# backwards. Without `modules`, an owner is guessed from the captured SQL.
dialect: sqlite                 # sqlglot dialect of the captured SQL (postgres for a PostgreSQL app)

# module (Flask blueprint) -> the tables it owns
modules:{" {}" if not modules else ""}
{modules}
# feature (as in config/routes.yaml) -> the modules that move with it
features:{" {}" if not features else ""}
{features}
# tables that are infrastructure, not domain data
ignore_tables: [alembic_version]
"""


MIGRATIONS = """\
# Data migrations per feature (`strangler migrate backfill|verify|sync|handover FEATURE`).
# Add one with `strangler add mapping TABLE --feature FEATURE`: it writes a commented mapping module from the
# legacy table's real columns and registers it here, e.g.
#   plants:
#     mapping: mappings.plants:PLANTS          # module under this project folder : TableMapping
#     source_env: LEGACY_DATABASE_URL          # environment variable holding the legacy database URL
#     source_default: "sqlite:////path/to/legacy.db"
#     target_env: PLANTS_DATABASE_URL
#     target_default: "sqlite:///{var}/plants.db"
{}
"""
