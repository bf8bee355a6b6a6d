"""`strangler add service | feature | mapping`: the next step of a migration as one command.

Every edit goes through the round-trip YAML tree (comments and key order kept), is validated as a whole
before it is written, and is written atomically: route-table edits use proxy.flips.edit_table (the flips'
lock and validation) on the template config/routes.yaml and, when it exists, the live var/routes.yaml.
All checks run before the first write, so a refused edit leaves every file as it was.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from sqlalchemy.engine import make_url

from proxy.common.files import atomic_write as _atomic_write
from proxy.table import ANY_METHOD, RouteTable, TableError, load_table
from proxy.table_edit import FlipError, edit_table
from proxy.table_edit import dump_yaml as _dump
from proxy.table_edit import round_trip as _round_trip
from strangler.cli.app import app
from strangler.cli.output import fail
from strangler.migrate.config import MigrationConfigError, load_config
from strangler.procs import free_port
from strangler.scaffold import mapping, proposals
from strangler.scaffold.discover import ScaffoldError
from strangler.scaffold.generate import parse_command
from strangler.settings import KitSettings, get_settings
from strangler.stack import NAME_RE, StackConfig, port_env_name

add_app = typer.Typer(help="Add a service, a feature or a data mapping to the project (validated; comments kept).",
                      no_args_is_help=True)
app.add_typer(add_app, name="add")


def _flow(items: list[Any]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _flow_map(**items: Any) -> CommentedMap:
    node = CommentedMap(items)
    node.fa.set_flow_style()
    return node


def _deepest_last(node: Any) -> tuple[Any, Any]:
    """The mapping holding the last key of `node`'s last entry (where ruamel keeps a trailing comment)."""
    while True:
        last = list(node)[-1]
        child = node[last]
        if not isinstance(child, CommentedMap) or not child or child.fa.flow_style():
            return node, last
        node = child


def _append(parent: CommentedMap, key: str, node: CommentedMap) -> None:
    """Add `key` last; a comment that trailed the old last entry (the next section's heading) stays below."""
    holder, last = _deepest_last(parent) if parent else (None, None)
    slot = holder.ca.items.get(last) if holder is not None else None
    trailer = slot[2] if slot and len(slot) > 2 else None
    parent[key] = node
    if trailer is not None and slot is not None and "#" in trailer.value:
        slot[2] = None
        new_holder, new_last = _deepest_last(parent)
        new_holder.ca.items.setdefault(new_last, [None, None, None, None])[2] = trailer


def _tables(settings: KitSettings) -> list[Path]:
    """The route template, and the live table when `strangler up` (or `routes init`) created it."""
    live = settings.routes_file or settings.var_dir / "routes.yaml"
    return [settings.routes_template] + ([live] if live.is_file() else [])


def _load(path: Path) -> RouteTable:
    try:
        return load_table(path)
    except TableError as exc:
        raise ScaffoldError(f"{str(exc).splitlines()[0]} (correct the table first)") from None


def _edit(paths: list[Path], mutate: Any) -> None:
    for path in paths:
        try:
            edit_table(path, mutate)
        except FlipError as exc:
            raise ScaffoldError(" ".join(str(exc).split())) from None


# ---------------------------------------------------------------------------------------------- service
@add_app.command("service")
def service(
    name: Annotated[str, typer.Argument(help="Process and upstream name, e.g. plants-service.")],
    command: Annotated[str, typer.Option("--command", help="Command that starts it, binding {port}.")],
    health: Annotated[str, typer.Option(help="Path it answers < 500 on when up.")] = "/healthz",
    port: Annotated[int | None, typer.Option(help="Port (default: one free now; STRANGLER_PORT_<NAME> "
                                                  "overrides it at `up`).")] = None,
    dry_run_writes: Annotated[bool, typer.Option(
        "--dry-run-writes", help="It runs the dry-run middleware (strangler_app): in shadow, send it signed "
                                 "copies of writes too (upstream dry_run_writes: true).")] = False,
) -> None:
    """Add a process to the stack file and an upstream to the route table (template and live table)."""
    settings = get_settings()
    try:
        stack_path = settings.stack_file
        if not NAME_RE.match(name):
            raise ScaffoldError(f"service name {name!r} must be lower-case letters, digits, '-' or '_', starting "
                                "with a letter. Fix: e.g. plants-service")
        if not health.startswith("/"):
            raise ScaffoldError(f"--health {health!r} is not a path. Fix: write it like /healthz")
        yaml_rt, doc = _round_trip(stack_path.read_text(encoding="utf-8"))
        processes = doc.get("processes") or CommentedMap()
        if name in processes:
            raise ScaffoldError(f"{stack_path} already has a process {name!r}. Fix: choose another name, or "
                                "edit that process")
        argv = parse_command(command, "--command", tuple(processes))
        chosen = port or free_port()
        for path in _tables(settings):
            if name in _load(path).upstreams:
                raise ScaffoldError(f"{path} already has an upstream {name!r}. Fix: choose another name")
        node = CommentedMap(command=_flow(argv), port=chosen, health=health, ready_timeout=30,
                            restart="on-failure", max_restarts=3)
        _append(processes, name, node)
        doc["processes"] = processes
        new_stack = _dump(yaml_rt, doc)
        try:
            StackConfig.model_validate(yaml.safe_load(new_stack))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ScaffoldError(f"the stack file would be invalid ({'.'.join(map(str, err['loc']))}: "
                                f"{err['msg']}). Fix: correct --command/--port") from None

        def mutate(_table: RouteTable, routes_doc: Any) -> None:
            _append(routes_doc["upstreams"], name, CommentedMap(
                url=f"http://127.0.0.1:${{{port_env_name(name)}:-{chosen}}}", health=health,
                **({"dry_run_writes": True} if dry_run_writes else {})))

        _edit(_tables(settings), mutate)
    except (ScaffoldError, OSError) as exc:
        raise fail(str(exc)) from None
    _atomic_write(stack_path, new_stack)
    typer.echo(f"Added process {name!r} (port {chosen}) to {stack_path} and upstream {name!r} to "
               + ", ".join(map(str, _tables(settings))))
    typer.echo(f"Next: strangler down && strangler up -d (starts {name})   then: strangler add feature FEATURE "
               f"--target {name}")


# ---------------------------------------------------------------------------------------------- feature
@add_app.command("feature")
def feature(
    name: Annotated[str, typer.Argument(help="Feature name (one that `strangler init` proposed, or a new one).")],
    target: Annotated[str, typer.Option("--target", help="The upstream (service) that will serve it.")],
    path: Annotated[list[str] | None, typer.Option(
        "--path", metavar="TEMPLATE", help="Route template, e.g. /api/plants/{id} (repeat it). Default: the "
                                           "routes init proposed for this feature.")] = None,
    methods: Annotated[list[str] | None, typer.Option(
        "--methods", help="Methods of the --path routes, e.g. GET,HEAD,POST (default: every method).")] = None,
) -> None:
    """Add a feature (state legacy) routed to TARGET: from --path, or from init's proposal of that name."""
    settings = get_settings()
    wanted = [m.strip().upper() for item in (methods or []) for m in item.split(",") if m.strip()] or [ANY_METHOD]
    try:
        paths = _tables(settings)
        for table_path in paths:
            table = _load(table_path)
            if name in table.features:
                raise ScaffoldError(f"{table_path} already has a feature {name!r}. Fix: choose another name, or "
                                    f"flip it with `strangler flip {name} ...`")
        proposed = proposals.read(settings.routes_template.read_text(encoding="utf-8"))
        if not path and name not in proposed:
            known = ", ".join(proposed) or "none"
            raise ScaffoldError(f"no routes for feature {name!r} (features proposed in {settings.routes_template}: "
                                f"{known}). Fix: give --path TEMPLATE, or use a proposed feature's name")
        routes = [{"methods": wanted, "path": p} for p in path] if path else proposed[name]["routes"]

        def mutate(_table: RouteTable, doc: Any, table_path: Path) -> None:
            node = CommentedMap(target=target, state="legacy", routes=CommentedSeq(
                [_flow_map(methods=_flow(list(r["methods"])), path=r["path"]) for r in routes]))
            node["parity"] = _flow_map(ignore=_flow([]), unordered=_flow([]))
            node["rollback"] = _flow_map(max_diff_rate=0.01, max_error_rate=0.02, min_samples=200)
            features = doc.get("features")
            if not features:
                features = doc["features"] = CommentedMap()
            features[name] = node
            here = proposals.read(table_path.read_text(encoding="utf-8"))
            if name in here:
                proposals.drop(doc, here[name]["lines"], last=len(here) == 1)

        for table_path in paths:
            _edit([table_path], lambda table, doc, p=table_path: mutate(table, doc, p))
    except (ScaffoldError, OSError) as exc:
        raise fail(str(exc)) from None
    typer.echo(f"Added feature {name!r} -> {target} (state legacy, {len(routes)} route templates) to "
               + ", ".join(map(str, paths)))
    typer.echo(f"Next: strangler flip {name} --to shadow   then: strangler parity report {name}")


# ---------------------------------------------------------------------------------------------- mapping
@add_app.command("mapping")
def add_mapping(
    table: Annotated[str, typer.Argument(help="The legacy table, as the database names it.")],
    feature_name: Annotated[str, typer.Option("--feature", help="The feature whose data it is.")],
    source_env: Annotated[str, typer.Option(help="Variable holding the legacy database URL (for a feature new "
                                                 "to config/migrations.yaml).")] = "LEGACY_DATABASE_URL",
    source_default: Annotated[str | None, typer.Option(help="The legacy database URL when that variable is "
                                                            "unset.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing mapping module.")] = False,
) -> None:
    """Write mappings/<table>.py (a commented TableMapping from the table's real columns) and register it."""
    settings = get_settings()
    try:
        project = settings.require_project()
        config_path = settings.migrations_file
        text = config_path.read_text(encoding="utf-8") if config_path.is_file() else "{}\n"
        yaml_rt, doc = _round_trip(text)
        doc = doc if doc is not None else CommentedMap()
        existing = load_config(config_path).get(feature_name) if config_path.is_file() else None
        url = existing.resolve_url("source", settings.var_dir) if existing else \
            os.environ.get(source_env) or source_default
        if not url:
            raise ScaffoldError(f"no legacy database URL for {feature_name!r}: {source_env} is not set. Fix: "
                                f"export {source_env}=URL, or pass --source-default URL")
        reflected = mapping.reflect(url, table)
        module = mapping.module_name(reflected.name)
        ref = f"mappings.{module}:{mapping.attribute_name(reflected.name)}"
        target = project.root / "mappings" / f"{module}.py"
        if target.exists() and not force:
            raise ScaffoldError(f"{target} exists. Fix: edit it, or pass --force to write it again")
        if existing and ref in existing.mapping:
            raise ScaffoldError(f"{config_path} already maps {ref} for {feature_name!r}. Fix: edit {target}")
        if existing and isinstance(doc[feature_name]["mapping"], list):
            doc[feature_name]["mapping"].append(ref)
        elif existing:
            doc[feature_name]["mapping"] = _flow([doc[feature_name]["mapping"], ref])
        else:
            doc[feature_name] = CommentedMap(
                mapping=ref, source_env=source_env, **({"source_default": source_default} if source_default else {}),
                target_env=re.sub(r"[^A-Za-z0-9]", "_", feature_name).upper() + "_DATABASE_URL",
                target_default=f"sqlite:///{{var}}/{feature_name}.db")
        shown = make_url(url).render_as_string(hide_password=True)
        module_text = mapping.skeleton(reflected, feature=feature_name, ref=ref, source=shown)
    except (ScaffoldError, MigrationConfigError, OSError) as exc:
        raise fail(str(exc)) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, module_text)
    if doc.fa.flow_style():
        doc.fa.set_block_style()
    _atomic_write(config_path, _dump(yaml_rt, doc))
    typer.echo(f"Wrote {target} ({len(reflected.columns)} columns of {reflected.name}, copied unchanged: edit "
               f"translate) and registered {ref} for {feature_name!r} in {config_path}")
    typer.echo(f"Next: strangler migrate backfill {feature_name}   then: strangler migrate verify {feature_name}")
