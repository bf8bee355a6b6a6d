"""Shared Locust machinery: an abstract user that plays the request mix (schema and validation in
load/mix.py), and the guards every run needs (loopback-only targets, a request cap).

Options (also from the environment, which forked --processes workers inherit): --mix FILE
(STRANGLER_LOAD_MIX; required), --mix-name NAME (STRANGLER_LOAD_MIX_NAME, default "read"), --max-requests N
(STRANGLER_LOAD_MAX_REQUESTS, per run, split across processes).

These users never import the CLI (an import-linter contract in pyproject.toml): `strangler load` and
`strangler parity run` hand them what they need through Locust's environment — the project's mix (and route
table) paths, STRANGLER_VAR_DIR, and this install's var/secrets.env under the caller's own environment, read by
a login's `${NAME}` and the parity user's identity key.
"""
from __future__ import annotations

import logging
import math
import os
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import gevent
from locust import HttpUser, constant, events, task
from locust.exception import StopUser
from locust.runners import LocalRunner, MasterRunner
from locust.stats import CSV_STATS_INTERVAL_SEC

from load import locust_csv
from load.mix import LoginSpec, MixEntry, MixError, load_mix, load_mix_and_login

locust_csv.install()  # the CSV writer greenlet stops before Locust closes its files (no closed-file traceback)

__all__ = ["LoginSpec", "MixEntry", "MixError", "MixUser", "load_mix", "require_loopback", "required_file",
           "take_request"]
LOGIN_LABEL = "login"
log = logging.getLogger("strangler.load")
DEFAULT_MAX_REQUESTS = 100_000


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


def required_file(given: str, option: str, env: str) -> str:
    """A file the run needs, given by its option or variable; the CLI passes the project's (these users never
    look for a project themselves, nor fall back on the kit's demo files from wherever Locust runs)."""
    if not given:
        raise MixError(f"no {option} given. Fix: pass {option} FILE (or set {env}), or run through "
                       "`strangler load` / `strangler parity run`, which pass the project's")
    return given


@events.init.add_listener
def _fresh_clock(**_: Any) -> None:
    """gevent's loop caches "now" at its last turn; the loop has not turned since gevent was imported, before
    Locust loaded the locustfile and the kit (seconds on a busy machine). Locust sets --run-time's timer right
    after this event, relative to that stale "now": a 5 s run on a machine at load 18 stopped 0.6 s after its
    users started. Fresh here, the timer counts the run time the user asked for."""
    gevent.get_hub().loop.update_now()


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
    _login: LoginSpec | None = None

    def on_start(self) -> None:
        self.rng = random.Random()
        if not self.host:
            raise MixError("no base URL. Fix: pass --host http://127.0.0.1:PORT")
        require_loopback(self.host, "base URL")
        self.entries = self.mix_entries(self.environment)
        self.user_values: dict[str, Any] = {}
        if self._login is not None and any(e.login for e in self.entries):
            self.log_in(self._login)

    @classmethod
    def mix_entries(cls, environment: Any) -> list[MixEntry]:
        if cls._entries is None:
            options = environment.parsed_options
            mix = required_file(options.mix, "--mix", "STRANGLER_LOAD_MIX")
            entries, cls._login = load_mix_and_login(mix, options.mix_name)
            cls._entries = cls.select(entries, environment)
        return cls._entries

    def login_base(self) -> str:
        """Where the user logs in (the base URL; the parity user logs in on the reference)."""
        return ""

    def log_in(self, spec: LoginSpec) -> None:
        """This simulated user's own session: draw its credentials once, log in, keep the cookie jar.
        A refused login is one failed "login" request in the stats (its login entries then fail visibly)."""
        self.user_values = spec.draw(self.rng)
        path, body, form = spec.render(self.user_values)
        with self.client.request(spec.method, self.login_base() + path, name=LOGIN_LABEL, json=body, data=form,
                                 headers=spec.headers, catch_response=True) as resp:
            if resp.status_code in spec.expect:
                resp.success()
            else:
                resp.failure(f"login refused: status {resp.status_code}")  # never the credentials
        self.after_login()

    def after_login(self) -> None:
        """Hook: the parity user resolves who it now is, to sign the candidate's requests."""

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
