"""Shared Locust machinery: a request mix read from YAML, an abstract user that plays it, and the guards
every run needs (loopback-only targets, a request cap).

The mix is configuration, not code (the project's config/load-mix.yaml; the demo's is in the kit root):

    mixes:
      read:
        - name: get item                     # optional description; stats are grouped by path template
          method: GET
          path: /api/items/{id}?page={page}  # {param} placeholders
          params: {id: {range: [1, 100]}, page: {choice: [1, 2]}}
          json: {"Name": "item {id}"}         # optional body template (strings formatted with the params)
          weight: 5
          expect: [200, 404]                 # statuses that count as success (default: any < 400)

Options (also from the environment, which forked --processes workers inherit): --mix FILE
(STRANGLER_LOAD_MIX; default: the current project's config/load-mix.yaml), --mix-name NAME (STRANGLER_LOAD_MIX_NAME, default "read"), --max-requests N
(STRANGLER_LOAD_MAX_REQUESTS, per run, split across processes).
"""
from __future__ import annotations

import logging
import math
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
from locust import HttpUser, constant, events, task
from locust.exception import StopUser
from locust.runners import LocalRunner, MasterRunner
from locust.stats import CSV_STATS_INTERVAL_SEC
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML

log = logging.getLogger("strangler.load")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_MAX_REQUESTS = 100_000


class MixError(ValueError):
    """A mix file problem, phrased as "<file>: <problem>. Fix: <what to do>"."""


class ParamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    range: tuple[int, int] | None = None
    choice: list[Any] | None = None

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
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    method: str = "GET"
    path: str
    params: dict[str, ParamSpec] = {}
    json_body: Any = Field(None, alias="json")
    weight: float = Field(1.0, gt=0)
    expect: list[int] = []

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        v = v.upper()
        if v not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            raise ValueError(f"unknown HTTP method {v!r}")
        return v

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
    """Read and validate one named mix; MixError says which entry is wrong and how to fix it."""
    path = Path(path)
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MixError(f"{path}: cannot read the mix file ({exc.strerror}). Fix: pass --mix FILE or set "
                       "STRANGLER_LOAD_MIX") from None
    except Exception as exc:  # noqa: BLE001 - YAML syntax errors of any kind
        raise MixError(f"{path}: not valid YAML ({exc}). Fix: correct the syntax") from None
    mixes = (data or {}).get("mixes") if isinstance(data, dict) else None
    if not isinstance(mixes, dict) or not mixes:
        raise MixError(f"{path}: no 'mixes:' mapping. Fix: add 'mixes: {{read: [...]}}'")
    if mix_name not in mixes:
        raise MixError(f"{path}: no mix named {mix_name!r}. Fix: use one of {', '.join(map(str, mixes))}")
    raw = mixes[mix_name]
    if not isinstance(raw, list) or not raw:
        raise MixError(f"{path}: mix {mix_name!r} is empty. Fix: list at least one request")
    entries = []
    for i, item in enumerate(raw):
        try:
            entries.append(MixEntry.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise MixError(f"{path}: mix {mix_name!r} entry {i + 1} {('(' + where + ') ') if where else ''}"
                           f"{first['msg']}. Fix: see the format in load/locust_base.py") from None
    return entries


def require_loopback(url: str, what: str) -> str:
    """The URL back (no trailing '/'), or MixError: the kit only ever targets loopback."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise MixError(f"{what} {url!r} is not an http(s) URL. Fix: use e.g. http://127.0.0.1:5000")
    if not _is_loopback(host):
        raise MixError(f"{what} {url!r} is not a loopback address. Fix: target 127.0.0.1/::1/localhost only; "
                       "the kit never sends load to other hosts")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    from proxy.net import is_loopback

    return is_loopback(host)


def project_file(name: str) -> str:
    """A file of the current project when no option names one (`strangler`'s settings: STRANGLER_* paths,
    else the project found from here); never the kit's demo files from wherever Locust runs."""
    from strangler.project import ProjectError
    from strangler.settings import KitSettings

    try:
        value = getattr(KitSettings.load(), name)
        return str(value() if callable(value) else value)
    except ProjectError as exc:
        raise MixError(str(exc)) from None


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:

    parser.add_argument("--mix", env_var="STRANGLER_LOAD_MIX", default="",
                       help="YAML request mix", include_in_web_ui=False)
    parser.add_argument("--mix-name", env_var="STRANGLER_LOAD_MIX_NAME", default="read",
                       help="which mix of the file", include_in_web_ui=False)
    parser.add_argument("--max-requests", env_var="STRANGLER_LOAD_MAX_REQUESTS", type=int,
                       default=DEFAULT_MAX_REQUESTS, help="stop after this many tasks (whole run)",
                       include_in_web_ui=False)


@dataclass
class _Budget:
    left: int | None = None
    stopping: bool = False


_BUDGET = _Budget()


def take_request(environment: Any) -> None:
    """Count one task against --max-requests; at the cap, stop this process's users (bounded runs)."""
    if _BUDGET.left is None:
        options = environment.parsed_options
        total = getattr(options, "max_requests", DEFAULT_MAX_REQUESTS) or DEFAULT_MAX_REQUESTS
        processes = getattr(options, "processes", None) or 1
        _BUDGET.left = max(1, math.ceil(total / max(1, processes)))
    if _BUDGET.left <= 0:
        if not _BUDGET.stopping and isinstance(environment.runner, LocalRunner) and \
                not isinstance(environment.runner, MasterRunner):
            _BUDGET.stopping = True
            log.warning("max requests reached; stopping the run")
            # Locust rewrites its CSV files once per CSV_STATS_INTERVAL_SEC: wait one round so they are final
            gevent.spawn_later(CSV_STATS_INTERVAL_SEC + 0.3, environment.runner.quit)
        raise StopUser()
    _BUDGET.left -= 1


class MixUser(HttpUser):
    """Plays the configured mix: each task draws one entry by weight. Subclasses implement `play`."""

    abstract = True
    wait_time = constant(float(os.environ.get("STRANGLER_LOAD_WAIT", "0")))
    _entries: list[MixEntry] | None = None

    def on_start(self) -> None:
        self.rng = random.Random()
        if not self.host:
            raise MixError("no base URL. Fix: pass --host http://127.0.0.1:PORT")
        require_loopback(self.host, "base URL")
        self.entries = self.mix_entries(self.environment)

    @classmethod
    def mix_entries(cls, environment: Any) -> list[MixEntry]:
        if cls._entries is None:
            options = environment.parsed_options
            mix = options.mix or project_file("mix_file")
            cls._entries = cls.select(load_mix(mix, options.mix_name), environment)
        return cls._entries

    @classmethod
    def select(cls, entries: list[MixEntry], environment: Any) -> list[MixEntry]:
        """Hook to narrow the mix (the parity user keeps one feature's safe requests)."""
        return entries

    @task
    def next_request(self) -> None:
        take_request(self.environment)
        self.play(self.pick())

    def pick(self) -> MixEntry:
        return self.rng.choices(self.entries, weights=[e.weight for e in self.entries])[0]

    def play(self, entry: MixEntry) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
