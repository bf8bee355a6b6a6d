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
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from proxy.table import TableError, _plain, expand_env, line_of, load_yaml

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
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
        return rng.choice(self.choice)


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
    def _placeholders_known(self) -> MixEntry:
        if not self.path.startswith("/"):
            raise ValueError(f"path {self.path!r} must start with '/'")
        missing = set(_PLACEHOLDER.findall(self.path)) - set(self.params)
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

    def render(self, rng: random.Random) -> tuple[str, Any]:
        """(concrete path, JSON body or None) with parameters drawn from their ranges/lists."""
        values = {name: spec.draw(rng) for name, spec in self.params.items()}
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
    """Read and validate one named mix; MixError says FILE:LINE, which entry is wrong and how to fix it."""
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
    entries = []
    for i, item in enumerate(raw):
        try:
            entries.append(MixEntry.model_validate(_plain(item)))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = tuple(first["loc"])
            line = line_of(doc, ("mixes", mix_name, i, *loc))
            where = ".".join(str(p) for p in loc)
            ctx = first.get("ctx") or {}
            problem = ctx.get("problem") or first["msg"]
            fix = ctx.get("fix_hint") or "see the mix file format in docs/how-to/parity-and-load.md (\"The mix file\")"
            raise MixError(f"{path}:{line}: mix {mix_name!r} entry {i + 1}{f' ({where})' if where else ''}: "
                           f"{problem}. Fix: {fix}") from None
    return entries


def schema_rows() -> list[str]:
    """The table of mix-entry keys of the docs' mix-file reference (scripts/gen_reference.py), from the models."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for model, prefix in ((MixEntry, ""), (ParamSpec, "params.NAME.")):
        for name, field in model.model_fields.items():
            key = prefix + (field.alias or name)
            default = "required" if field.is_required() else f"`{field.default!r}`"
            rows.append(f"| `{key}` | {default} | {field.description} |")
    return rows
