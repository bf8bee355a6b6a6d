"""The request-mix file (the project's config/load-mix.yaml): its schema and its validation, without Locust.

`strangler load` and `strangler parity run` validate the mix with `load_mix` BEFORE starting Locust, so a
bad file is one line "FILE:LINE: problem. Fix: …" and no run; the Locust users (load/locust_base.py) read
it the same way. Format (the docs' mix-file reference lists every key; `schema_rows()` generates that table):

    mixes:
      read:
        - name: get item                     # optional description; stats are grouped by path template
          method: GET
          path: /api/items/{id}?page={page}  # {param} placeholders
          params: {id: {range: [1, 100]}, page: {choice: [1, 2]}}
          headers: {Authorization: "Bearer ${API_TOKEN}"}   # ${ENV} read from the environment
          json: {"Name": "item {id}"}         # optional body template (strings formatted with the params)
          weight: 5
          expect: [200, 404]                 # statuses that count as success (default: any < 400)
        - name: my order
          path: /api/orders/{id}
          params: {id: {range: [1, 100]}}
          login: true                        # sent with the simulated user's own session
    login:                                   # how each simulated user logs in, once, on start
      method: POST
      path: /api/login
      params: {n: {range: [1, 1000]}}        # drawn ONCE per user: `{n}` also fills its login entries
      json: {Email: "customer{n}@example.com", Password: "${LEGACY_SEED_PASSWORD}"}   # or form: {...}
      expect: [200]

A login is a real per-user session (the user's own cookie jar), never a static token. `${NAME}` in its body
reads the environment given (default: this process's). `strangler load` and `strangler parity run` start Locust
with this install's var/secrets.env under their own environment (a generated per-install secret such as the
demo's LEGACY_SEED_PASSWORD), so this module never imports the CLI to find them; the value never reaches an
error message.
"""
from __future__ import annotations

import os
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from proxy.common import yamlio
from proxy.common.yamlio import plain
from proxy.table import TableError, expand_env, line_of, load_yaml

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PARAM_REF = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")  # {param}, not ${ENV}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)


class MixError(ValueError):
    """A mix file problem, phrased as "<file>[:<line>]: <problem>. Fix: <what to do>"."""


class ParamSpec(BaseModel):
    """How one `{param}` is drawn for each request."""

    model_config = ConfigDict(extra="forbid")
    range: tuple[int, int] | None = Field(None, description="`[LOW, HIGH]`: a random integer, both ends included")
    choice: list[Any] | None = Field(None, description="`[A, B, …]`: one of these values at random")

    @model_validator(mode="after")
    def _one_kind(self) -> ParamSpec:
        if (self.range is None) == (self.choice is None):
            raise ValueError("give exactly one of 'range: [LOW, HIGH]' or 'choice: [...]'")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError(f"range {list(self.range)} has LOW > HIGH")
        if self.choice is not None and not self.choice:
            raise ValueError("choice must not be empty")
        return self

    def draw(self, rng: random.Random) -> Any:
        if self.range is not None:
            return rng.randint(*self.range)
        assert self.choice is not None  # (the validator requires a range or a choice)
        return rng.choice(self.choice)


class LoginSpec(BaseModel):
    """How each simulated user logs in once on start: a real per-user session, not a shared token."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    method: str = Field("POST", description="POST (usually), PUT or GET")
    path: str = Field(description="the login endpoint, e.g. `/api/login`")
    params: dict[str, ParamSpec] = Field({}, description="drawn ONCE per simulated user; `{name}` fills the login "
                                         "body and the user's `login: true` entries (e.g. `CustomerId: \"{n}\"`)")
    json_body: Any = Field(None, alias="json", repr=False, description="JSON body template with the per-user "
                           "credentials, e.g. `{Email: \"customer{n}@example.com\", Password: \"${PASSWORD}\"}`")
    form: dict[str, str] | None = Field(None, repr=False, description="form body (application/x-www-form-urlencoded) "
                                        "instead of `json`")
    headers: dict[str, str] = Field({}, repr=False, description="request headers of the login (`${NAME}` as for "
                                    "its body)")
    expect: list[int] = Field([200], description="statuses of a successful login")

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        if v.upper() not in ("POST", "PUT", "GET"):
            raise ValueError(f"login method {v!r} is not POST, PUT or GET")
        return v.upper()

    @model_validator(mode="after")
    def _shape(self) -> LoginSpec:
        if not self.path.startswith("/"):
            raise ValueError(f"login path {self.path!r} must start with '/'")
        if self.json_body is not None and self.form is not None:
            raise ValueError("give the login body as 'json' or as 'form', not both")
        used = set(_PLACEHOLDER.findall(self.path)) | _placeholders(self.json_body) | _placeholders(self.form)
        missing = used - set(self.params)
        if missing:
            raise ValueError(f"the login uses {sorted(missing)} but its params does not define them")
        return self

    def draw(self, rng: random.Random) -> dict[str, Any]:
        """One simulated user's values (their credentials' parameters)."""
        return {name: spec.draw(rng) for name, spec in self.params.items()}

    def render(self, values: dict[str, Any]) -> tuple[str, Any, dict[str, str] | None]:
        """(path, JSON body, form body) of this user's login."""
        path = _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), self.path)
        form = {k: str(_fill(v, values)) for k, v in self.form.items()} if self.form is not None else None
        return path, _fill(self.json_body, values), form


def _placeholders(template: Any) -> set[str]:
    if isinstance(template, str):
        return set(_PARAM_REF.findall(template))
    if isinstance(template, dict):
        return set().union(*(_placeholders(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(_placeholders(v) for v in template)) if template else set()
    return set()


class MixEntry(BaseModel):
    """One kind of request of a mix."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description="a description (stats are grouped by path template)")
    method: str = Field("GET", description="GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS")
    path: str = Field(description="path (and query) starting with `/`; `{param}` placeholders")
    params: dict[str, ParamSpec] = Field({}, description="param -> `{range: [LOW, HIGH]}` or `{choice: [...]}`")
    headers: dict[str, str] = Field({}, description="request headers; `${NAME}` / `${NAME:-default}` read "
                                    "the environment (keep tokens out of the file); unset NAME is an error")
    json_body: Any = Field(None, alias="json", description="JSON body template; strings formatted with the "
                           "params, `\"{qty}\"` alone keeps the drawn value's type")
    weight: float = Field(1.0, gt=0, description="relative frequency within the mix")
    expect: list[int] = Field([], description="statuses that count as success (default: any below 400)")
    login: bool = Field(False, description="send it with the simulated user's session (the file's `login:` "
                        "section logs each user in on start); the login's params fill its placeholders too")

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        v = v.upper()
        if v not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            raise ValueError(f"unknown HTTP method {v!r}")
        return v

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not _TOKEN.match(name):
                raise PydanticCustomError("bad_header", "header name {name!r} is not a valid HTTP header name",
                                          {"name": name})
        return {name: expand_env(value, f"header {name}", show=False) for name, value in v.items()}

    @model_validator(mode="after")
    def _placeholders_known(self, info: ValidationInfo) -> MixEntry:
        if not self.path.startswith("/"):
            raise ValueError(f"path {self.path!r} must start with '/'")
        context = info.context or {}
        if self.login and not context.get("has_login", True):
            raise PydanticCustomError("no_login", "{problem}", {
                "problem": "it has 'login: true' but the file has no 'login:' section",
                "fix_hint": "add one (method, path, params, json with the per-user credentials), or drop "
                            "'login: true'"})
        login_params: set[str] = set(context.get("login_params", ())) if self.login else set()
        shared = set(self.params) & login_params
        if shared:
            raise ValueError(f"params {sorted(shared)} are also the login's per-user params; rename one")
        missing = set(_PLACEHOLDER.findall(self.path)) - set(self.params) - login_params
        if missing:
            raise ValueError(f"path {self.path!r} uses {sorted(missing)} but params does not define them")
        return self

    @property
    def route(self) -> str:
        """The path template without the query: the route the stats and the parity store group by."""
        return self.path.split("?", 1)[0]

    @property
    def label(self) -> str:
        """Locust's name= group: the path template, so /api/items/1 and /api/items/2 are one stats row."""
        return self.route

    @property
    def safe(self) -> bool:
        return self.method in ("GET", "HEAD", "OPTIONS")

    def render(self, rng: random.Random, user: dict[str, Any] | None = None) -> tuple[str, Any]:
        """(concrete path, JSON body or None) with parameters drawn from their ranges/lists; a login entry
        also uses its simulated user's login values (`user`)."""
        values = {**(user or {}), **{name: spec.draw(rng) for name, spec in self.params.items()}}
        path = _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), self.path)
        return path, _fill(self.json_body, values)

    def accepts(self, status: int) -> bool:
        return status in self.expect if self.expect else 0 < status < 400


def _fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]  # "{qty}" alone keeps the drawn value's type (a number stays a number)
        return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def load_mix(path: Path | str, mix_name: str = "read") -> list[MixEntry]:
    """Read and validate one named mix (and the login section its entries use, without reading its secrets);
    MixError says FILE:LINE, which entry is wrong and how to fix it."""
    return load_mix_and_login(path, mix_name, secrets=False)[0]


def _mix_error(path: Path, line: int, what: str, exc: ValidationError) -> MixError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    ctx = first.get("ctx") or {}
    problem = ctx.get("problem") or first["msg"]
    fix = ctx.get("fix_hint") or "see the mix file format in docs/how-to/parity-and-load.md (\"The mix file\")"
    return MixError(f"{path}:{line}: {what}{f' ({where})' if where else ''}: {problem}. Fix: {fix}")


def _expand_secrets(template: Any, where: str, path: Path, line: int, environ: Mapping[str, str]) -> Any:
    """`${NAME}` in the login's strings, from `environ` (the environment, with the install's secrets when
    `strangler load`/`parity run` started this process); never echoed."""
    if isinstance(template, str):
        def unset(name: str) -> MixError:
            return MixError(f"{path}:{line}: {where} uses ${{{name}}}, which is neither in the environment nor in "
                            f"var/secrets.env. Fix: export {name}=... (or start the stack once: it generates "
                            "the per-install secrets; `strangler load` and `strangler parity run` pass them on)")
        return yamlio.expand_env(template, unset, environ)
    if isinstance(template, dict):
        return {k: _expand_secrets(v, where, path, line, environ) for k, v in template.items()}
    if isinstance(template, list):
        return [_expand_secrets(v, where, path, line, environ) for v in template]
    return template


def _load_login(doc: Any, path: Path, secrets: bool, environ: Mapping[str, str]) -> LoginSpec | None:
    raw = doc.get("login") if isinstance(doc, dict) else None
    if raw is None:
        return None
    line = line_of(doc, ("login",))
    if not isinstance(raw, dict):
        raise MixError(f"{path}:{line}: 'login' must be a mapping (method, path, params, json or form). "
                       "Fix: see the mix file format in docs/how-to/parity-and-load.md")
    try:
        spec = LoginSpec.model_validate(plain(raw))
    except ValidationError as exc:
        loc = tuple(exc.errors()[0]["loc"])
        raise _mix_error(path, line_of(doc, ("login", *loc)), "login", exc) from None
    if not secrets:
        return spec
    body_line = line_of(doc, ("login", "form" if spec.form is not None else "json"))
    return spec.model_copy(update={
        "json_body": _expand_secrets(spec.json_body, "the login body", path, body_line, environ),
        "form": _expand_secrets(spec.form, "the login form", path, body_line, environ),
        "headers": _expand_secrets(spec.headers, "the login headers", path, line_of(doc, ("login", "headers")),
                                   environ)})


def load_mix_and_login(path: Path | str, mix_name: str = "read", *, secrets: bool = True,
                       environ: Mapping[str, str] | None = None) -> tuple[list[MixEntry], LoginSpec | None]:
    """One named mix and, when any of its entries has `login: true`, the file's validated login section
    with its `${NAME}` secrets read from `environ` (default: os.environ, which `strangler load`/`parity run`
    fill with the install's var/secrets.env under the caller's environment; secrets=False: left as written,
    for checks without the secrets). A login entry without a login section, or an unknown secret, is a
    FILE:LINE error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MixError(f"{path}: cannot read the mix file ({getattr(exc, 'strerror', None) or exc}). Fix: pass "
                       "--mix FILE or set STRANGLER_LOAD_MIX") from None
    try:
        doc = load_yaml(text, str(path))
    except TableError as exc:
        raise MixError(str(exc).splitlines()[0]) from None
    mixes = doc.get("mixes") if isinstance(doc, dict) else None
    if not isinstance(mixes, dict) or not mixes:
        raise MixError(f"{path}:1: no 'mixes:' mapping. Fix: add 'mixes: {{read: [...]}}'")
    if mix_name not in mixes:
        raise MixError(f"{path}:{line_of(doc, ('mixes',))}: no mix named {mix_name!r}. "
                       f"Fix: use one of {', '.join(map(str, mixes))}")
    raw = mixes[mix_name]
    if not isinstance(raw, list) or not raw:
        raise MixError(f"{path}:{line_of(doc, ('mixes', mix_name))}: mix {mix_name!r} is empty. "
                       "Fix: list at least one request")
    raw_login = doc.get("login") if isinstance(doc, dict) else None
    login_params = set(raw_login.get("params") or {}) if isinstance(raw_login, dict) else set()
    entries = []
    for i, item in enumerate(raw):
        try:
            entries.append(MixEntry.model_validate(plain(item), context={"login_params": login_params,
                                                                           "has_login": raw_login is not None}))
        except ValidationError as exc:
            loc = tuple(exc.errors()[0]["loc"])
            raise _mix_error(path, line_of(doc, ("mixes", mix_name, i, *loc)),
                             f"mix {mix_name!r} entry {i + 1}", exc) from None
    if not any(e.login for e in entries):
        return entries, None
    return entries, _load_login(doc, path, secrets, os.environ if environ is None else environ)


def schema_rows() -> list[str]:
    """The table of mix-entry keys of the docs' mix-file reference (scripts/gen_reference.py), from the models."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for model, prefix in ((MixEntry, ""), (ParamSpec, "params.NAME."), (LoginSpec, "login.")):
        for name, field in model.model_fields.items():
            key = prefix + (field.alias or name)
            default = "required" if field.is_required() else f"`{field.default!r}`"
            rows.append(f"| `{key}` | {default} | {field.description} |")
    return rows
