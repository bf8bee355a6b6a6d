"""What `strangler init` proposes: one feature per module of the legacy app, with its routes as route-table
templates and a guess of the tables it owns.

Two sources: a Flask app's url_map (blueprint = feature), read by `urlmap_reader.py` in the APP's own
interpreter — the kit never imports the app — or an OpenAPI document (first tag = feature, else the first
path segment that is not `api` or a version). Problems are ScaffoldError: one line with the fix.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from proxy.table import HTTP_METHODS, parse_template

READER = Path(__file__).with_name("urlmap_reader.py")
READER_TIMEOUT_S = 60.0
_CONVERTER = re.compile(r"<(?:([A-Za-z_][A-Za-z0-9_]*)(?:\([^)]*\))?:)?([A-Za-z_][A-Za-z0-9_]*)>")
_SKIP_SEGMENT = re.compile(r"^(api|v\d+(\.\d+)*)$", re.IGNORECASE)


class ScaffoldError(Exception):
    """A one-line problem with its fix; the CLI prints it and exits 2 having written nothing."""


@dataclass
class Route:
    methods: list[str]
    path: str                                               # a route-table template: /api/plants/{ref}
    params: dict[str, str] = field(default_factory=dict)    # name -> int | float | str | path


@dataclass
class Discovery:
    source: str                                             # what was read, for the summary
    features: dict[str, list[Route]] = field(default_factory=dict)
    tables: dict[str, list[str]] = field(default_factory=dict)  # feature -> guessed tables
    known_tables: bool = False                              # True when the guesses come from the app's tables
    legacy_only: list[str] = field(default_factory=list)    # routes of no module: they stay on the default
    skipped: list[str] = field(default_factory=list)        # routes no template can express, with the reason


def feature_name(raw: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", raw.lower()).strip("-") or "root"


# ---------------------------------------------------------------------------------------------- Flask
def app_python(legacy_argv: list[str], explicit: str | None) -> str:
    """--python, else the python next to the legacy command's executable (its virtualenv), else python3."""
    if explicit:
        return explicit
    words = [w for w in legacy_argv if "=" not in w and not w.startswith("-")]  # `env X=1 gunicorn …`
    exe = words[1] if len(words) > 1 and Path(words[0]).name == "env" else words[0] if words else ""
    found = exe if "/" in exe else shutil.which(exe) if exe and "{" not in exe else None
    if found:
        for name in ("python", "python3"):
            candidate = Path(found).parent / name
            if candidate.is_file():
                return str(candidate)
    return shutil.which("python3") or "python3"


def read_flask(app_ref: str, python: str, cwd: Path) -> Discovery:
    """The app's url_map, read by its own interpreter in `cwd` (where the legacy command runs)."""
    if ":" not in app_ref and "." not in app_ref and not app_ref.isidentifier():
        raise ScaffoldError(f"--flask-app {app_ref!r} is not MODULE:VAR. Fix: e.g. --flask-app wsgi:app")
    try:
        done = subprocess.run([python, "-c", READER.read_text(encoding="utf-8"), app_ref], cwd=cwd,
                              capture_output=True, text=True, timeout=READER_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise ScaffoldError(f"no Python interpreter at {python}. Fix: pass --python PATH (the app's "
                            "virtualenv's bin/python)") from None
    except subprocess.TimeoutExpired:
        raise ScaffoldError(f"importing {app_ref} with {python} took over {READER_TIMEOUT_S:.0f} s. Fix: make "
                            "the import not wait on a server, or use --openapi instead") from None
    if done.returncode != 0:
        last = next((ln for ln in reversed(done.stderr.splitlines()) if ln.strip()), f"exit {done.returncode}")
        raise ScaffoldError(f"cannot import the Flask app {app_ref} with {python} in {cwd} ({last.strip()}). "
                            "Fix: run init from the folder the app imports from, pass the app's interpreter "
                            "with --python PATH, or correct --flask-app MODULE:VAR")
    try:
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise ScaffoldError(f"{python} printed no url_map for {app_ref}. Fix: check that the app's import "
                            "does not exit early") from None
    return _from_rules(f"Flask url_map of {app_ref}", data["rules"], data.get("tables") or [])


def flask_template(rule: str) -> tuple[str, dict[str, str]]:
    """'/plants/<int:pid>/' -> ('/plants/{pid}', {'pid': 'int'}); ValueError for rules no template expresses."""
    params: dict[str, str] = {}
    segments = []
    parts = list(rule.strip("/").split("/")) if rule.strip("/") else []
    for i, part in enumerate(parts):
        match = _CONVERTER.fullmatch(part)
        if match:
            kind, name = (match.group(1) or "string"), match.group(2)
            if kind == "path":
                if i != len(parts) - 1:
                    raise ValueError("a <path:…> converter before the last segment")
                segments.append(f"{{{name}:path}}")
            else:
                segments.append(f"{{{name}}}")
            params[name] = {"int": "int", "float": "float", "path": "path"}.get(kind, "str")
        elif "<" in part:
            raise ValueError(f"segment {part!r} mixes text and a parameter")
        else:
            segments.append(part)
    path = "/" + "/".join(segments)
    parse_template(path)
    return path, params


def _from_rules(source: str, rules: list[dict[str, Any]], tables: list[dict[str, str]]) -> Discovery:
    found = Discovery(source, known_tables=bool(tables))
    packages: dict[str, str] = {}
    for rule in rules:
        if rule["endpoint"] == "static" or rule["endpoint"].endswith(".static"):
            continue
        methods = [m for m in rule["methods"] if m != "OPTIONS"] or ["GET"]
        try:
            path, params = flask_template(rule["rule"])
        except ValueError as exc:
            found.skipped.append(f"{rule['rule']} ({exc})")
            continue
        if not rule.get("blueprint"):
            found.legacy_only.append(path)
            continue
        name = feature_name(rule["blueprint"])
        packages.setdefault(name, (rule.get("package") or "").rpartition(".")[0])
        _add(found, name, Route(methods, path, params))
    _guess_tables(found, tables, packages)
    return found


def _add(found: Discovery, feature: str, route: Route) -> None:
    """Merge methods of one template within a feature; a method + path another feature has stays there."""
    shape = parse_template(route.path).shape
    for other, routes in found.features.items():
        for known in routes:
            if parse_template(known.path).shape != shape:
                continue
            if other == feature:
                known.methods = [m for m in HTTP_METHODS if m in {*known.methods, *route.methods}]
                return
            clash = set(known.methods) & set(route.methods)
            if clash:
                found.skipped.append(f"{route.path} {sorted(clash)} of {feature} (already in feature {other})")
                route.methods = [m for m in route.methods if m not in clash]
    if route.methods:
        route.methods = [m for m in HTTP_METHODS if m in route.methods]
        found.features.setdefault(feature, []).append(route)


def _name_forms(name: str) -> set[str]:
    base = name.lower().replace("-", "_")
    forms = {base, base + "s", base + "es"}
    if base.endswith("ies"):
        forms.add(base[:-3] + "y")
    if base.endswith("s"):
        forms.add(base[:-1])
    if base.endswith("y"):
        forms.add(base[:-1] + "ies")
    return forms


def _guess_tables(found: Discovery, tables: list[dict[str, str]], packages: dict[str, str]) -> None:
    """Tables defined in the blueprint's own package (when blueprints live in packages of their own), else
    tables whose name is the feature's (singular/plural, or NAME_something); without a table list, the name."""
    distinct = len(set(packages.values())) == len(packages) and all(packages.values())
    for feature in found.features:
        forms = _name_forms(feature)
        if not tables:
            found.tables[feature] = [feature.replace("-", "_")]
            continue
        guessed = [t["name"] for t in tables
                   if (distinct and t["module"].startswith(packages[feature] + "."))
                   or t["name"].lower() in forms or t["name"].lower().split("_")[0] in forms]
        found.tables[feature] = guessed


# ---------------------------------------------------------------------------------------------- OpenAPI
def read_openapi(source: str) -> Discovery:
    """Paths of an OpenAPI 2/3 document (URL or file); feature = first tag, else first meaningful segment."""
    doc = _load_openapi(source)
    base = ""
    if isinstance(doc.get("basePath"), str):
        base = doc["basePath"].rstrip("/")
    elif doc.get("servers") and isinstance(doc["servers"][0], dict):
        base = urlsplit(str(doc["servers"][0].get("url", ""))).path.rstrip("/")
    found = Discovery(f"OpenAPI document {source}")
    for raw_path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        path = (base + "/" + str(raw_path).strip("/")).rstrip("/") or "/"
        try:
            parse_template(path)
        except ValueError as exc:
            found.skipped.append(f"{path} ({exc})")
            continue
        shared = item.get("parameters") or []
        for method, op in item.items():
            if method.upper() not in HTTP_METHODS or not isinstance(op, dict):
                continue
            params = {p["name"]: _param_kind(p) for p in [*shared, *(op.get("parameters") or [])]
                      if isinstance(p, dict) and p.get("in") == "path" and "name" in p}
            tags = op.get("tags") or []
            literal = [s for s in path.split("/") if s and "{" not in s and not _SKIP_SEGMENT.match(s)]
            name = feature_name(str(tags[0])) if tags else feature_name(literal[0]) if literal else None
            methods = [method.upper()] + (["HEAD"] if method.upper() == "GET" else [])
            if name is None:
                found.legacy_only.append(path)
            else:
                _add(found, name, Route(methods, path, params))
    _guess_tables(found, [], {})
    return found


def _param_kind(param: dict[str, Any]) -> str:
    kind = (param.get("schema") or {}).get("type") or param.get("type")
    return {"integer": "int", "number": "float"}.get(str(kind), "str")


def _load_openapi(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(source, timeout=10.0, follow_redirects=True)
            response.raise_for_status()
            text = response.text
        except httpx.HTTPError as exc:
            raise ScaffoldError(f"the OpenAPI URL {source} does not answer ({type(exc).__name__}: {exc}). Fix: "
                                "start the app first, or save the document and pass --openapi FILE") from None
    else:
        try:
            text = Path(source).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScaffoldError(f"cannot read the OpenAPI file {source} ({exc.__class__.__name__}). Fix: pass "
                                "the path of a JSON/YAML OpenAPI document, or its URL") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScaffoldError(f"{source} is not JSON/YAML ({str(exc).splitlines()[0]}). Fix: pass an OpenAPI "
                            "document (openapi.json)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise ScaffoldError(f"{source} has no `paths` mapping, so it is not an OpenAPI document. Fix: pass "
                            "the app's openapi.json / swagger.json")
    return doc
