"""The route table: which feature's routes go to which upstream, in which migration state.

One YAML file is the single source of truth. It is validated as a whole on every load; any problem is
reported as "<file>:<line>: <problem>. Fix: <what to do>" (never a pydantic traceback), because the people
editing it are operators mid-migration and the running façade keeps serving the last good table.
Path templates are parsed once here (`parse_template`) so the data plane never re-parses them.
"""
from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from proxy.common import yamlio
from proxy.common.suggest import did_you_mean
from proxy.common.yamlio import plain
from proxy.net import is_loopback
from proxy.record.config import RecordConfig

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
ANY_METHOD = "*"
READ_METHODS = ("GET", "HEAD", "OPTIONS")  # every other method is a write, served only by the feature's writes owner


class State(StrEnum):
    LEGACY = "legacy"
    SHADOW = "shadow"
    CANARY = "canary"
    NEW = "new"
    RETIRED = "retired"


class WritesOwner(StrEnum):
    """The one side that serves a feature's writes (the other side learns them through the data sync)."""

    LEGACY = "legacy"
    SERVICE = "service"


Loc = tuple[str | int, ...]  # a path into the table document: ('features', 'orders', 'routes', 0)


def _problem(kind: str, problem: str, fix: str, at: Loc = (), other: Loc | None = None) -> PydanticCustomError:
    """A validation error that carries its own fix and a location relative to the model being validated."""
    ctx: dict[str, Any] = {"fix_hint": fix, "at_loc": at}
    if other is not None:
        ctx["other_loc"] = other
    ctx["problem"] = problem  # last: pydantic substitutes ctx keys in order, so '{...}' in it stays literal
    return PydanticCustomError(kind, "{problem}", ctx)


# ---------------------------------------------------------------------------------------------- templates
@dataclass(frozen=True, slots=True)
class Segment:
    """One path segment of a template: a literal, a one-segment `{name}` or the trailing `{name:path}`."""

    kind: Literal["literal", "param", "rest"]
    value: str  # the literal text, or the parameter name


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A parsed template. `shape` erases parameter names, so `/a/{id}` and `/a/{x}` are the same route."""

    raw: str
    segments: tuple[Segment, ...]

    @property
    def shape(self) -> tuple[tuple[str, str], ...]:
        return tuple((s.kind, s.value if s.kind == "literal" else "") for s in self.segments)

    @property
    def specificity(self) -> tuple[int, ...]:
        """Sort key, higher = more specific: literal beats `{param}` beats `{rest:path}`, position by position."""
        rank = {"literal": 2, "param": 1, "rest": 0}
        return tuple(rank[s.kind] for s in self.segments) + (len(self.segments),)

    def match(self, path: str | tuple[str, ...]) -> dict[str, str] | None:
        """Parameters when `path` (a request path or `split_path` result) matches, else None."""
        parts = split_path(path) if isinstance(path, str) else path
        params: dict[str, str] = {}
        for i, seg in enumerate(self.segments):
            if seg.kind == "rest":
                if i >= len(parts):
                    return None
                params[seg.value] = "/".join(parts[i:])
                return params
            if i >= len(parts):
                return None
            if seg.kind == "literal" and parts[i] != seg.value:
                return None
            if seg.kind == "param":
                params[seg.value] = parts[i]
        return params if len(parts) == len(self.segments) else None


def split_path(path: str) -> tuple[str, ...]:
    """Request path -> segments, the same way templates are split (query dropped, one trailing '/' ignored)."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    parts = path.split("/")[1:]
    if parts and parts[-1] == "":
        parts.pop()
    return tuple(parts)


_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(:path)?\}$")


def parse_template(path: str) -> PathTemplate:
    """Parse "/api/items/{id}" or "/static/{rest:path}"; raises ValueError naming the problem and the fix."""
    if not path.startswith("/"):
        raise ValueError(f"path template {path!r} must start with '/'")
    if "?" in path or "#" in path:
        raise ValueError(f"path template {path!r} must not contain a query or fragment ('?'/'#')")
    if path != "/" and path.endswith("/"):
        raise ValueError(f"path template {path!r} ends with '/'; remove the trailing slash")
    raw_segments = [] if path == "/" else path[1:].split("/")
    segments: list[Segment] = []
    for i, raw in enumerate(raw_segments):
        if raw == "":
            raise ValueError(f"path template {path!r} has an empty segment ('//')")
        m = _PARAM.match(raw)
        if m:
            name, is_rest = m.group(1), bool(m.group(2))
            if is_rest and i != len(raw_segments) - 1:
                raise ValueError(f"'{{{name}:path}}' in {path!r} must be the last segment")
            if any(s.value == name for s in segments if s.kind != "literal"):
                raise ValueError(f"parameter '{name}' appears twice in {path!r}")
            segments.append(Segment("rest" if is_rest else "param", name))
        elif any(c in raw for c in "{}*"):
            raise ValueError(
                f"segment {raw!r} of {path!r} is not a literal nor a whole '{{name}}' / '{{name:path}}' parameter"
            )
        else:
            segments.append(Segment("literal", raw))
    return PathTemplate(path, tuple(segments))


def expand_env(text: str, what: str, show: bool = True) -> str:
    """`${NAME}` / `${NAME:-default}` replaced from the environment (route-table URLs, mix-file headers); an
    unset NAME without default is a validation error naming it. `show=False` keeps the text (a header that
    may hold a secret) out of the message."""
    return yamlio.expand_env(text, lambda name: _problem(
        "unset_env", f"{what} {text!r} uses ${{{name}}}, which is not set" if show else
        f"{what} uses ${{{name}}}, which is not set", f"export {name}, or give a default: ${{{name}:-VALUE}}"))


# ---------------------------------------------------------------------------------------------- models
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BreakerConfig(_Model):
    """Per-upstream circuit breaker: open after N consecutive failures; half-open after open_seconds."""

    failure_threshold: int = Field(5, ge=1)
    open_seconds: float = Field(5.0, gt=0)


class Upstream(_Model):
    url: str
    health: str | None = "/healthz"
    dry_run_writes: bool = False
    timeout_s: float = Field(10.0, gt=0)
    breaker: BreakerConfig = BreakerConfig()

    @field_validator("url", mode="before")
    @classmethod
    def _expand_env(cls, v: Any) -> Any:
        """`${NAME}` / `${NAME:-default}` in a URL read the environment, so one table follows the ports a
        supervisor chose (e.g. "http://127.0.0.1:${STRANGLER_PORT_CATALOG:-8101}")."""
        return expand_env(v, "upstream url") if isinstance(v, str) else v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        fix = "write it as http://HOST:PORT (no path, query or credentials), e.g. http://127.0.0.1:5000"
        try:
            parts = urlsplit(v)
            port = parts.port
        except ValueError as exc:
            raise _problem("bad_url", f"upstream url {v!r} is not a valid URL ({exc})", fix) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _problem("bad_url", f"upstream url {v!r} is not an http(s) URL with a host", fix)
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or port == 0:
            raise _problem("bad_url", f"upstream url {v!r} has a path, query, credentials or port 0", fix)
        return v.rstrip("/")

    @field_validator("health")
    @classmethod
    def _health(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("/"):
            raise _problem("bad_health", f"health path {v!r} must start with '/'", "write it like /healthz, or null")
        return v

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (443 if self.scheme == "https" else 80)


class RouteSpec(_Model):
    methods: list[str] = ["GET", "HEAD"]
    path: str

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        upper = [m.upper() for m in v]
        fix = f"use {ANY_METHOD!r} alone, or some of {', '.join(HTTP_METHODS)}"
        if not upper:
            raise _problem("bad_method", "methods is empty", fix)
        for m in upper:
            if m not in HTTP_METHODS and m != ANY_METHOD:
                raise _problem("bad_method", f"unknown HTTP method {m!r}", fix)
        if ANY_METHOD in upper and len(upper) > 1:
            raise _problem("bad_method", f"{ANY_METHOD!r} already means every method", fix)
        return list(dict.fromkeys(upper))

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        try:
            parse_template(v)
        except ValueError as exc:
            raise _problem(
                "bad_template", str(exc), "use literal segments, '{name}' for one segment, '{name:path}' last"
            ) from None
        return v

    @cached_property
    def template(self) -> PathTemplate:
        return parse_template(self.path)


class NormaliseRule(StrEnum):
    """How a `parity.normalise` path compares (proxy/parity/rules.py)."""

    INSTANT = "instant"                    # the same instant however written (ISO-8601, instant_formats, zones)
    NUMBER = "number"                      # 1 == 1.0 == "1"
    CASE_INSENSITIVE = "case_insensitive"  # "Shipped" == "SHIPPED"
    NULL_IS_EMPTY = "null_is_empty"        # null == ""
    PRESENT = "present"                    # present on both sides; values may differ (ids, creation times)


class ParityConfig(_Model):
    ignore: list[str] = []
    unordered: list[str] = []
    numeric_tolerance: float = Field(0.0, ge=0)
    headers: list[str] = []
    sample_rate: float = Field(1.0, ge=0, le=1)
    max_in_flight: int = Field(32, ge=1)
    # share of shadowed GET/HEAD requests also sent to legacy a second time (Diffy's noise sample)
    noise_sample_rate: float = Field(0.1, ge=0, le=1)
    # in canary/new also send a copy to the side that did NOT serve, and compare (shadow always does)
    shadow_other_side: bool = False
    # per-path normalisers beside ignore/unordered (proxy/parity/rules.py); reported as "equal after normalising"
    normalise: dict[str, NormaliseRule] = {}
    instant_formats: list[str] = []          # legacy strptime formats for `instant`, e.g. "%d/%m/%Y %H:%M"
    instant_zone: str = "UTC"                # IANA zone of instants written without one
    secret_headers: list[str] = []           # redacted like Authorization/Cookie in stored examples and exports
    window: int = Field(500, ge=1)           # verdicts and rates over the last N comparisons per route

    @field_validator("ignore", "unordered")
    @classmethod
    def _json_paths(cls, v: list[str]) -> list[str]:
        from proxy.parity.paths import PathPatternError, compile_pattern  # lazy: proxy.parity imports this module

        for p in v:
            if not p.startswith("$"):
                raise _problem("bad_json_path", f"{p!r} is not a JSON path", "start it with '$', e.g. $.Items[*].Id")
            try:
                compile_pattern(p)
            except PathPatternError as exc:
                raise _problem("bad_json_path", str(exc).split("; ")[0], "write .name, ['name'], [N], [*], .* or "
                               "..name") from None
        return v

    @field_validator("normalise")
    @classmethod
    def _normalise_paths(cls, v: dict[str, NormaliseRule]) -> dict[str, NormaliseRule]:
        cls._json_paths(list(v))
        return v

    @field_validator("instant_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise _problem("bad_zone", f"instant_zone {v!r} is not a time zone", "write an IANA name such as "
                           "UTC or Europe/Paris") from None
        return v


class RollbackConfig(_Model):
    """Limits over the last `min_samples`; crossing one makes the façade step the feature back one state.
    Errors count only as regressions (not when legacy failed the same request: proxy/shadow/window.py), and
    a limit acts only once `min_clients` distinct cohorts are behind it."""

    max_diff_rate: float | None = Field(None, ge=0, le=1)
    max_error_rate: float | None = Field(None, ge=0, le=1)
    max_status_change_rate: float | None = Field(None, ge=0, le=1)  # status class differs from legacy's
    max_p95_ms: float | None = Field(None, gt=0)
    min_samples: int = Field(200, ge=1)
    min_clients: int = Field(3, ge=1)


class PromoteConfig(_Model):
    """Evidence a move up the ladder needs: the feature's recent parity (its `parity.window`) within these
    limits over at least `min_samples` comparisons (strangler/promote.py; `--force` overrides, ledgered).
    A limit set to null is not checked; `min_samples: 0` allows a move with no comparisons."""

    max_diff_rate: float | None = Field(0.01, ge=0, le=1)
    max_error_rate: float | None = Field(0.01, ge=0, le=1)
    max_p95_ms: float | None = Field(None, gt=0)
    min_samples: int = Field(50, ge=0)


IDENTITY_MODES = ("none", "remote")


class IdentityConfig(_Model):
    """Who the caller is, carried across the seam (docs/identity.md): `remote` = the façade asks the `source`
    upstream's identity endpoint (cached `cache_s` per credential) and sends every upstream a signed header;
    the monolith's Cookie/Authorization reach a non-legacy target only with `forward_credentials`."""

    mode: str = "none"
    source: str | None = None  # the upstream that answers the identity endpoint; default: the table's default
    forward_credentials: bool = False
    cache_s: float = Field(5.0, ge=0, le=3600)
    session_keys: list[str] = []

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if v not in IDENTITY_MODES:
            raise _problem("bad_identity", f"identity mode {v!r} is not one of {', '.join(IDENTITY_MODES)}"
                           f"{did_you_mean(v, IDENTITY_MODES)}", "write 'mode: remote' or 'mode: none'")
        return v

    @field_validator("session_keys")
    @classmethod
    def _keys(cls, v: list[str]) -> list[str]:
        if any(not k or not isinstance(k, str) for k in v):
            raise _problem("bad_identity", "identity.session_keys holds an empty name",
                           "list the legacy session keys a service may read, e.g. [cart_id, locale]")
        return v

    @property
    def remote(self) -> bool:
        return self.mode == "remote"


class Feature(_Model):
    target: str
    state: State = State.LEGACY
    writes_owner: WritesOwner = WritesOwner.LEGACY
    canary_percent: float = Field(0, ge=0, le=100)
    routes: list[RouteSpec] = Field(min_length=1)
    parity: ParityConfig = ParityConfig()
    rollback: RollbackConfig = RollbackConfig()
    promote: PromoteConfig = PromoteConfig()
    identity: IdentityConfig = IdentityConfig()
    record: RecordConfig | None = None  # recorded traffic (proxy/record/config.py); None: not recorded

    @field_validator("identity", mode="before")
    @classmethod
    def _identity_shorthand(cls, v: Any) -> Any:
        """`identity: remote` / `identity: none` are the short forms of `{mode: ...}`."""
        if isinstance(v, str) or not isinstance(v, dict | None):
            if v not in IDENTITY_MODES:
                raise _problem("bad_identity", f"identity {v!r} is not one of {', '.join(IDENTITY_MODES)}"
                               f"{did_you_mean(v, IDENTITY_MODES)}",
                               "write 'identity: remote', 'identity: none', or a mapping {mode: remote, source: "
                               "UPSTREAM, forward_credentials: false, cache_s: 5, session_keys: []}")
            return {"mode": v}
        if v is None:
            return {"mode": "none"}
        return v

    @model_validator(mode="after")
    def _canary_needs_percent(self) -> Feature:
        if self.state is State.CANARY and self.canary_percent <= 0:
            raise _problem(
                "canary_percent", "state canary needs canary_percent > 0",
                "add 'canary_percent: N' with 0 < N <= 100 (or choose another state)", at=("state",),
            )
        return self


class CohortConfig(_Model):
    """Cohort key = this header's value, else this cookie's value, else the client address."""

    header: str | None = "X-Strangler-Cohort"
    cookie: str | None = None


class FacadeLimits(_Model):
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1)


class RouteTable(_Model):
    upstreams: dict[str, Upstream] = Field(min_length=1)
    default: str
    cohort: CohortConfig = CohortConfig()
    limits: FacadeLimits = FacadeLimits()
    features: dict[str, Feature] = {}
    record: RecordConfig | None = None  # recording of the default upstream's traffic (proxy/record/config.py)
    allow_remote_upstreams: bool = False  # the kit targets loopback only unless you opt in explicitly

    @model_validator(mode="after")
    def _cross_references(self) -> RouteTable:
        known = ", ".join(self.upstreams)
        if self.default not in self.upstreams:
            raise _problem("unknown_upstream", f"default names unknown upstream {self.default!r}",
                           f"use one of: {known}{did_you_mean(self.default, self.upstreams)}", at=("default",))
        if not self.allow_remote_upstreams:
            for name, up in self.upstreams.items():
                if not is_loopback(up.host):
                    raise _problem("remote_upstream", f"upstream {name!r} points at non-loopback host {up.host!r}",
                                   "use 127.0.0.1/::1/localhost, or set 'allow_remote_upstreams: true' at top level",
                                   at=("upstreams", name, "url"))
        # shape -> method -> (feature, route index): one dict lookup per route and method, so tables with
        # thousands of routes validate in linear time
        claimed: dict[tuple[tuple[str, str], ...], dict[str, tuple[str, int]]] = {}
        for fname, feat in self.features.items():
            if feat.target not in self.upstreams:
                raise _problem("unknown_upstream", f"feature {fname!r} targets unknown upstream {feat.target!r}",
                               f"use one of: {known}{did_you_mean(feat.target, self.upstreams)}",
                               at=("features", fname, "target"))
            source = feat.identity.source
            if source is not None and source not in self.upstreams:
                raise _problem("unknown_upstream", f"feature {fname!r} asks identity of unknown upstream {source!r}",
                               f"use one of: {known}{did_you_mean(source, self.upstreams)}",
                               at=("features", fname, "identity", "source"))
            if feat.target == self.default:
                raise _problem("target_is_default", f"feature {fname!r} targets the default upstream {feat.target!r}",
                               "point 'target' at the new service; the default is where legacy traffic goes",
                               at=("features", fname, "target"))
            for i, route in enumerate(feat.routes):
                by_method = claimed.setdefault(route.template.shape, {})
                for method in route.methods:
                    rivals = by_method.items() if method == ANY_METHOD else \
                        [(m, by_method[m]) for m in (method, ANY_METHOD) if m in by_method]
                    for _, (other_f, other_i) in rivals:
                        if other_f != fname:
                            raise _problem(
                                "route_claimed",
                                f"{method} {route.path} is already claimed by feature {other_f!r}",
                                "give each method + path to one feature only (remove it from one of them)",
                                at=("features", fname, "routes", i),
                                other=("features", other_f, "routes", other_i),
                            )
                for method in route.methods:
                    by_method.setdefault(method, (fname, i))
        return self


# ---------------------------------------------------------------------------------------------- errors
@dataclass(frozen=True)
class TableIssue:
    line: int | None
    problem: str
    fix: str


class TableError(ValueError):
    """Every problem of one file; `file`, `line`, `problem`, `fix` describe the first one."""

    def __init__(self, file: str, issues: list[TableIssue]):
        self.file, self.issues = file, issues
        first = issues[0]
        self.line, self.problem, self.fix = first.line, first.problem, first.fix
        super().__init__("\n".join(
            f"{file}{f':{i.line}' if i.line else ''}: {i.problem}. Fix: {i.fix}" for i in issues))


# ---------------------------------------------------------------------------------------------- loading
def load_table(path: Path) -> RouteTable:
    """Read and validate a route table file; raises TableError (never a pydantic/YAML traceback)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TableError(str(path), [TableIssue(None, f"cannot read the route table ({exc})",
                                                "check the path (--routes or STRANGLER_ROUTES_FILE)")]) from None
    return parse_table(text, source=str(path))


class _UniqueKeyLoader(yaml.CSafeLoader):
    """libyaml's C parser for the common case; rejects duplicate keys like the round-trip parser does."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        if len(keys) != len(set(map(repr, keys))):
            raise yaml.constructor.ConstructorError(None, None, "duplicate key", node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _fast_table(text: str) -> RouteTable | None:
    """Valid tables load here fast (thousands of routes in well under a second); None means "take the slow,
    line-aware path", which then reports every problem with its line — so errors never lose their position."""
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)
        return RouteTable.model_validate(doc) if isinstance(doc, dict) else None
    except (yaml.YAMLError, ValidationError, ValueError, TypeError):
        return None


def parse_table(text: str, source: str = "<string>") -> RouteTable:
    table = _fast_table(text)
    if table is not None:
        return table
    doc = load_yaml(text, source)
    if not isinstance(doc, dict):
        raise TableError(source, [TableIssue(1, "the route table must be a YAML mapping",
                                             "start with 'upstreams:', 'default:' and 'features:' keys")])
    try:
        return RouteTable.model_validate(plain(doc))
    except ValidationError as exc:
        raise TableError(source, [_issue(doc, err) for err in exc.errors()]) from None


def load_yaml(text: str, source: str = "<string>") -> Any:
    """Round-trip parse (nodes keep their line numbers and comments); YAML errors become TableError."""
    try:
        return yamlio.parse_yaml(text)
    except yamlio.YamlSyntaxError as exc:
        fix = ("keep one of the duplicate keys" if exc.duplicate_key else
               "fix the YAML syntax at this line (indentation, ':' after keys, matching quotes/brackets)"
               if exc.line else "fix the YAML syntax")
        raise TableError(source, [TableIssue(exc.line, f"invalid YAML: {exc.problem}", fix)]) from None



def line_of(doc: Any, loc: Loc) -> int:
    """1-based line of the deepest node along `loc` in the round-trip document; when not even `loc[0]` is
    there, the line the document starts on (1 when unknown): a table error always has a line."""
    line = yamlio.line_of(doc, loc)
    if line is None and loc and getattr(doc, "lc", None) is not None:
        line = doc.lc.line + 1
    return line if line is not None else 1


def _issue(doc: Any, err: ErrorDetails) -> TableIssue:
    ctx = err.get("ctx") or {}
    loc = tuple(err["loc"]) + tuple(ctx.get("at_loc", ()))
    line = line_of(doc, loc)
    where = ".".join(str(p) for p in loc) or "table"
    kind, value = err["type"], err.get("input")
    if "fix_hint" in ctx:
        problem = ctx["problem"]
        if "other_loc" in ctx:
            problem += f" (line {line_of(doc, ctx['other_loc'])})"
        return TableIssue(line, problem, ctx["fix_hint"])
    if kind == "extra_forbidden":
        allowed = _allowed_keys(tuple(err["loc"])[:-1])
        hint = did_you_mean(str(loc[-1]), allowed)
        return TableIssue(line, f"unknown key {loc[-1]!r}{hint}", f"allowed keys here: {', '.join(allowed)}")
    if kind == "missing":
        return TableIssue(line, f"missing key {where!r}", f"add '{loc[-1]}:'")
    if kind == "enum":
        what, names = ("writes owner", [o.value for o in WritesOwner]) if loc[-1] == "writes_owner" else \
            ("normaliser rule", [r.value for r in NormaliseRule]) if "normalise" in loc else \
            ("state", [s.value for s in State])
        return TableIssue(line, f"{where}: unknown {what} {value!r}{did_you_mean(value, names)}",
                          f"use one of: {', '.join(names)}")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return TableIssue(line, f"{where} = {value!r} is out of range ({err['msg'].lower()})",
                          _range_fix(loc))
    if kind == "too_short":
        return TableIssue(line, f"{where} must not be empty", f"add at least one entry under '{loc[-1]}'")
    return TableIssue(line, f"{where}: {err['msg']} (got {value!r})", "correct the value's type or format")


def _range_fix(loc: Loc) -> str:
    if loc and loc[-1] == "canary_percent":
        return "use a number with 0 < N <= 100 for canary (0 is allowed outside canary)"
    if loc and loc[-1] in ("sample_rate", "noise_sample_rate"):
        return "use a fraction between 0 and 1"
    return "use a value inside the allowed range"


def _allowed_keys(loc: Loc) -> list[str]:
    """Field names of the model reached by walking `loc` from RouteTable (for 'did you mean' hints)."""
    tp: Any = RouteTable
    for key in loc:
        while typing.get_origin(tp) in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(key))
            if field is None:
                return []
            tp = field.annotation
        elif typing.get_origin(tp) in (dict, list):
            tp = typing.get_args(tp)[-1]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []
