"""`strangler load`: drive Locust headless as a subprocess with the configured request mix and thresholds.

Locust runs in its own process (`python -m locust`) because it monkey-patches the standard library with
gevent; the CLI only builds the command, guards the targets (loopback only), always bounds the run
(--run-time and --max-requests) and exits with Locust's exit code (set by load/thresholds.py).
"""
from __future__ import annotations

import http.client
import os
import re
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from load.mix import MixError, load_mix_and_login
from proxy.common.clock import stamp
from strangler.cli.app import app
from strangler.cli.output import fail, note
from strangler.cli.progress import LiveLine, stats_line
from strangler.procs import is_loopback
from strangler.runstate import process_urls
from strangler.secrets import read_secrets
from strangler.settings import get_settings

LOAD_DIR = Path(__file__).resolve().parents[2] / "load"
_RUN_TIME = re.compile(r"^(?:\d+h)?(?:\d+m)?(?:\d+s)?$")
GRACE_S = 60  # Locust's own shutdown on top of --run-time before we kill it
PREFLIGHT_S = 5.0
LIVE_EVERY_S = 5.0  # one progress line this often while Locust runs


@dataclass
class LocustRun:
    """Everything one headless Locust run needs; `argv()` and `env()` build the subprocess."""

    locustfile: Path
    host: str
    users: int
    run_time: str
    processes: int | None
    csv: Path
    html: Path
    mix: Path
    mix_name: str
    max_requests: int
    extra_env: dict[str, str] = field(default_factory=dict)
    var_dir: Path | None = None  # this install's: Locust gets it and its saved secrets (load/ never imports us)

    def argv(self) -> list[str]:
        args = [sys.executable, "-m", "locust", "-f", str(self.locustfile), "--headless", "--host", self.host,
                "--users", str(self.users), "--spawn-rate", str(self.users), "--run-time", self.run_time,
                "--stop-timeout", "2", "--only-summary", "--csv", str(self.csv), "--html", str(self.html)]
        if self.processes:
            args += ["--processes", str(self.processes)]
        return args

    def env(self) -> dict[str, str]:
        """Locust's environment: what its users need, handed over (they never import the CLI). With a var dir,
        STRANGLER_VAR_DIR and the install's var/secrets.env under the caller's own environment, so a mix login's
        `${NAME}` and the parity user's identity key find a generated per-install secret."""
        install = {} if self.var_dir is None else read_secrets(self.var_dir)
        env = {**install, **os.environ, "STRANGLER_LOAD_MIX": str(self.mix), "STRANGLER_LOAD_MIX_NAME": self.mix_name,
               "STRANGLER_LOAD_MAX_REQUESTS": str(self.max_requests), **self.extra_env}
        if self.var_dir is not None:
            env["STRANGLER_VAR_DIR"] = str(self.var_dir)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env


def loopback_url(url: str, option: str) -> str:
    """The URL without a trailing '/', or a clear error: every load target must be loopback.

    A bare name (no "://") is a process of the running stack, e.g. `--host facade`, so commands never
    need to repeat ports that `strangler up --port` may have changed."""
    if "://" not in url:
        urls = process_urls(get_settings().var_dir)
        if url not in urls:
            known = ", ".join(sorted(urls)) or "none: start the stack with `strangler up -d`"
            raise fail(f"{option} {url!r} is neither a URL nor a process of the stack (known: {known})")
        url = urls[url]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f"{option} {url!r} is not an http(s) URL; use e.g. http://127.0.0.1:5000")
    if not is_loopback(parts.hostname):
        raise fail(f"{option} {url!r} is not a loopback address; the kit only sends load to 127.0.0.1/::1/"
                   "localhost")
    return url.rstrip("/")


def check_run_time(run_time: str) -> str:
    if not run_time or not _RUN_TIME.match(run_time):
        raise fail(f"--run-time {run_time!r} is not a duration; use e.g. 20s, 2m or 1m30s")
    return run_time


def seconds(run_time: str) -> int:
    total = 0
    for amount, unit in re.findall(r"(\d+)([hms])", run_time):
        total += int(amount) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


def default_output(kind: str) -> tuple[Path, Path]:
    """Per-run names, so a run never overwrites the last one: var/locust/<kind>-<UTC time>_stats.csv and
    <kind>-<UTC time>.html; after the run `link_latest` points <kind>_stats.csv, <kind>.html … at the newest."""
    out = get_settings().var_dir / "locust"
    out.mkdir(parents=True, exist_ok=True)
    run = f"{kind}-{stamp().replace('-', '').replace(':', '')}"
    return out / run, out / f"{run}.html"


LATEST_SUFFIXES = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv")


def link_latest(run: LocustRun, kind: str) -> list[Path]:
    """Symlinks <kind>_stats.csv (…) and <kind>.html beside the per-run files, pointing at this run's."""
    links = [(Path(f"{run.csv}{suffix}"), run.csv.parent / f"{kind}{suffix}") for suffix in LATEST_SUFFIXES]
    links.append((run.html, run.html.parent / f"{kind}.html"))
    made = []
    for target, link in links:
        if not target.exists():
            continue
        tmp = link.with_name(f".{link.name}.tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target.name if target.parent == link.parent else target.resolve())
        os.replace(tmp, link)
        made.append(link)
    return made


def preflight(url: str, option: str) -> None:
    """One request before the run: a target where nothing answers is one line now, not a run of failures."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or "127.0.0.1"  # (URL options are checked loopback-only before this)
    conn = (http.client.HTTPSConnection(host, port, timeout=PREFLIGHT_S,
                                        context=ssl._create_unverified_context())  # loopback only
            if parts.scheme == "https" else http.client.HTTPConnection(host, port, timeout=PREFLIGHT_S))
    try:
        conn.request("GET", parts.path or "/")
        conn.getresponse().read(0)  # any HTTP answer will do, even 404: something listens
    except (OSError, http.client.HTTPException) as exc:
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else (str(exc) or type(exc).__name__)
        raise fail(f"{option} {url}: nothing answers at {parts.hostname}:{port} ({reason}). Fix: start it "
                   f"(`strangler up -d`, `strangler status`) or pass the right {option}") from None
    finally:
        conn.close()


def execute(run: LocustRun, also: dict[str, str] | None = None, kind: str | None = None) -> int:
    """Validate the mix (with its login's secrets) and ask each target once (`also`: option -> URL besides
    --host), then run Locust to completion (bounded by run-time + grace) with a live line every few seconds, and
    return its exit code.
    `kind` (load, parity) links the run's files as the newest of that kind (default names only)."""
    if not run.mix.exists():
        raise fail(f"mix file {run.mix} does not exist. Fix: pass --mix FILE, or create the project's "
                   "config/load-mix.yaml")
    try:  # with the environment Locust will get: a login's unknown ${SECRET} is an error before it starts
        load_mix_and_login(run.mix, run.mix_name, environ=run.env())
    except MixError as exc:
        raise fail(str(exc)) from None
    for option, url in {**(also or {}), "--host": run.host}.items():
        preflight(url, option)
    run.csv.parent.mkdir(parents=True, exist_ok=True)
    run.html.parent.mkdir(parents=True, exist_ok=True)
    stats = Path(f"{run.csv}_stats.csv")
    stats.unlink(missing_ok=True)  # the live line must not read a previous run's figures
    note(f"locust: {run.users} users, {run.run_time}, max {run.max_requests} requests → {run.host}"
         f"{f' ({run.processes} processes)' if run.processes else ''}; a line every {LIVE_EVERY_S:g} s")
    with subprocess.Popen(run.argv(), env=run.env()) as proc, LiveLine(stats, every=LIVE_EVERY_S):
        try:
            code = proc.wait(timeout=seconds(run.run_time) + GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=GRACE_S)
            raise fail(f"locust did not stop within --run-time + {GRACE_S} s; killed it. Fix: a shorter "
                       "--run-time, or fewer --users", 3) from None
    if kind:
        link_latest(run, kind)
    final = stats_line(stats, seconds(run.run_time))
    note(f"result: {final.split('] ', 1)[-1] if final else 'no requests recorded'}; exit code {code}")
    note(f"CSV: {stats}  HTML: {run.html}")
    return code


UsersOpt = Annotated[int, typer.Option("--users", "-u", min=1, max=1000, help="Concurrent users.")]
RunTimeOpt = Annotated[str, typer.Option("--run-time", "-t", help="Duration, e.g. 20s, 2m (always bounded).")]
ProcessesOpt = Annotated[int | None, typer.Option("--processes", min=1, max=64,
                                                  help="Locust worker processes (fork).")]
CsvOpt = Annotated[Path | None, typer.Option(
    "--csv", help="CSV prefix (default: var/locust/<kind>-<UTC time>, one per run; var/locust/<kind>_stats.csv "
                  "links the newest).")]
HtmlOpt = Annotated[Path | None, typer.Option(
    "--html", help="HTML report (default: var/locust/<kind>-<UTC time>.html; var/locust/<kind>.html links the "
                   "newest).")]
MixOpt = Annotated[Path | None, typer.Option("--mix", envvar="STRANGLER_LOAD_MIX", show_default=False,
                                             help="Request mix YAML (default: the project's config/load-mix.yaml).")]
MixNameOpt = Annotated[str, typer.Option("--mix-name", help="Which mix of the file (e.g. read, write).")]
MaxRequestsOpt = Annotated[int, typer.Option("--max-requests", min=1, help="Stop after this many requests.")]


@app.command()
def load(host: Annotated[str, typer.Option("--host", help="Base URL to load (loopback only).")],
         users: UsersOpt = 5, run_time: RunTimeOpt = "20s", processes: ProcessesOpt = None,
         csv: CsvOpt = None, html: HtmlOpt = None, mix: MixOpt = None,
         mix_name: MixNameOpt = "read", max_requests: MaxRequestsOpt = 100_000,
         max_fail_ratio: Annotated[float | None, typer.Option("--max-fail-ratio", min=0, max=1,
                                                              help="Fail above this failure fraction.")] = None,
         max_p95_ms: Annotated[float | None, typer.Option("--max-p95-ms", min=0,
                                                          help="Fail above this p95 latency (ms).")] = None,
         from_recording: Annotated[str | None, typer.Option(
             "--from-recording", metavar="FEATURE|all", help="Send the recorded cases at their observed weights "
             "instead of the mix file (`strangler record cases`).")] = None,
         speed: Annotated[str | None, typer.Option("--speed", help="With --from-recording: pace the run at the "
                                                   "recorded rate times this, e.g. 2x.")] = None,
         writes: Annotated[bool, typer.Option("--writes", help="With --from-recording: also send recorded "
                                              "writes (they change the target's state).")] = False,
         store: Annotated[str | None, typer.Option("--store", envvar="STRANGLER_PARITY_STORE",
                                                   help="With --from-recording: the parity store holding the "
                                                   "recordings (default: as `strangler record`).")] = None) -> None:
    """Run the request mix against one base URL with Locust (headless); exit code = Locust's (thresholds)."""
    default_csv, default_html = default_output("load")
    extra = {}
    if from_recording is not None:  # recorded traffic as the mix (issue 22: strangler/cli/record.py)
        from strangler.cli.record import recorded_mix_file

        mix, wait = recorded_mix_file(from_recording, store, None, writes=writes, speed=speed, users=users)
        mix_name = "recorded"
        if wait is not None:
            extra["STRANGLER_LOAD_WAIT"] = f"{wait:.4f}"
    elif speed is not None or writes:
        raise fail("--speed and --writes pace and widen a recorded mix. Fix: add --from-recording FEATURE|all")
    if max_fail_ratio is not None:
        extra["STRANGLER_MAX_FAIL_RATIO"] = str(max_fail_ratio)
    if max_p95_ms is not None:
        extra["STRANGLER_MAX_P95_MS"] = str(max_p95_ms)
    run = LocustRun(LOAD_DIR / "locustfile_load.py", loopback_url(host, "--host"), users, check_run_time(run_time),
                    processes, csv or default_csv, html or default_html, mix or get_settings().mix_file, mix_name,
                    max_requests, extra, get_settings().var_dir)
    code = execute(run, kind="load" if csv is None and html is None else None)
    if code:
        raise fail(f"the load run failed its thresholds or errored (Locust exit code {code}). Fix: see the "
                   f"summary above and {run.html}", code)
