"""`strangler up / status / logs / down` against real tiny servers on free loopback ports."""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

import httpx
import pytest

from strangler.procs import spawn, stop
from strangler.runstate import pid_alive

pytestmark = pytest.mark.integration


def test_up_detached_status_logs_down(tiny, stack):
    a, b = tiny("a"), tiny("b", "--peer-port", "{port:a}")
    stack.write({"a": a, "b": b})

    up = stack.cli("up", "--detach")
    assert up.returncode == 0, up.stderr
    assert f"http://127.0.0.1:{a['port']}" in up.stdout and f"http://127.0.0.1:{b['port']}" in up.stdout

    state = stack.state()
    pids = [state["processes"][n]["pid"] for n in ("a", "b")]
    supervisor_pid = state["supervisor_pid"]
    assert all(pid_alive(p) for p in [*pids, supervisor_pid])
    # {port:a} reached b's command line
    assert httpx.get(f"http://127.0.0.1:{b['port']}/healthz").json()["peer_port"] == a["port"]

    status = stack.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    procs = json.loads(status.stdout)["processes"]
    assert procs["running"] is True
    assert {n: (p["healthy"], p["pid"]) for n, p in procs["processes"].items()} == {
        "a": (True, pids[0]), "b": (True, pids[1])}
    table = stack.cli("status")
    assert "healthy" in table.stdout and f":{b['port']}" in table.stdout

    logs = stack.cli("logs", "b", "-n", "5")
    assert logs.returncode == 0 and f"tiny server b listening on {b['port']}" in logs.stdout

    again = stack.cli("up", "--detach")
    assert again.returncode == 1 and "already running" in again.stderr

    down = stack.cli("down")
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(p) for p in [*pids, supervisor_pid])
    assert not (stack.var_dir / "run" / "supervisor.pid").exists()
    assert stack.state()["status"] == "stopped"

    # the ports are free again at once (TIME_WAIT left by health checks must not block a restart)
    restart = stack.cli("up", "-d")
    assert restart.returncode == 0, restart.stderr
    assert stack.cli("down").returncode == 0

    second = stack.cli("down")
    assert second.returncode == 0 and "Nothing is running" in second.stdout
    after = json.loads(stack.cli("status", "--json").stdout)["processes"]
    assert after["running"] is False and not any(p["healthy"] for p in after["processes"].values())


def test_port_taken_is_refused_before_anything_starts(tiny, stack):
    a, b = tiny("a"), tiny("b")
    stack.write({"a": a, "b": b})
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", b["port"]))
        squatter.listen()
        up = stack.cli("up", "--detach")
    assert up.returncode == 1
    assert f"port {b['port']} for 'b' is already in use" in up.stderr
    assert f"--port b={b['port'] + 1}" in up.stderr and "STRANGLER_PORT_B=" in up.stderr
    assert "Traceback" not in up.stderr
    assert not (stack.var_dir / "run" / "stack.json").exists()  # nothing was started
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{a['port']}/healthz")


def test_port_override_from_flag_and_env(tiny, stack):
    from strangler.procs import free_port

    a, b = tiny("a"), tiny("b")
    stack.write({"a": a, "b": b})
    port_a, port_b = free_port(), free_port()
    up = stack.cli("up", "-d", "--port", f"a={port_a}", env={"STRANGLER_PORT_B": str(port_b)})
    assert up.returncode == 0, up.stderr
    assert httpx.get(f"http://127.0.0.1:{port_a}/healthz").json()["name"] == "a"
    assert httpx.get(f"http://127.0.0.1:{port_b}/healthz").json()["name"] == "b"
    assert stack.cli("down").returncode == 0


def test_never_healthy_fails_with_log_tail_and_stops_the_others(tiny, stack):
    stack.write({"a": tiny("a"), "b": tiny("b", "--unhealthy", ready_timeout=1.5), "c": tiny("c")})
    up = stack.cli("up", "--detach")
    assert up.returncode == 1
    assert "'b' did not become healthy within 1.5s" in up.stderr
    assert "tiny server b listening" in up.stderr  # the log tail
    assert "Traceback" not in up.stderr
    state = stack.state()
    assert state["status"] == "failed"
    assert not pid_alive(state["processes"]["a"]["pid"])
    assert not pid_alive(state["processes"]["b"]["pid"])
    assert state["processes"]["c"]["pid"] is None  # never started
    assert not pid_alive(state["supervisor_pid"])


def test_process_exiting_at_start_is_reported(tiny, stack):
    stack.write({"a": tiny("a", "--crash-after", "0")})
    up = stack.cli("up", "--detach")
    assert up.returncode == 1
    assert "'a' exited with code 3" in up.stderr and "crashing on purpose" in up.stderr


def test_on_failure_restarts_are_bounded(tiny, stack, wait_for):
    counter = stack.root / "flaky.count"
    stack.write({
        # each crashes 0.3 s after its first health answer: `up` has seen it healthy, however busy the machine
        "flaky": tiny("flaky", "--crash-after", "0.3", "--once-healthy", "--crash-times", "1", "--counter",
                      str(counter), restart="on-failure", restart_backoff=0.1),
        "doomed": tiny("doomed", "--crash-after", "0.3", "--once-healthy", restart="on-failure", max_restarts=2,
                       restart_backoff=0.1),
        "once": tiny("once", "--crash-after", "0.3", "--once-healthy"),  # restart: no
    })
    up = stack.cli("up", "--detach")
    assert up.returncode == 0, up.stderr

    def settled():
        procs = stack.state()["processes"]
        return procs if procs["doomed"]["status"] == "failed" and procs["once"]["status"] == "exited" \
            and procs["flaky"]["status"] == "healthy" and procs["flaky"]["restarts"] == 1 else None

    procs = wait_for(settled, timeout=20, what="restarts to settle")
    assert procs["doomed"]["restarts"] == 2 and "gave up after 2 restart(s)" in procs["doomed"]["message"]
    assert procs["once"]["restarts"] == 0
    # restarted once: two starts counted by the process itself (its first pid may already be gone by the time
    # `up --detach` returns on a busy machine, so the pid is not compared), and the second one is alive
    assert pid_alive(procs["flaky"]["pid"])
    assert counter.read_text() == "2"
    doomed_log = (stack.var_dir / "logs" / "doomed.log").read_text()
    assert doomed_log.count("tiny server doomed listening") == 3  # first start + 2 restarts, then no more
    assert stack.cli("down").returncode == 0
    assert not pid_alive(procs["flaky"]["pid"])


def test_foreground_subset_stops_on_sigint(tiny, stack, wait_for):
    a, b = tiny("a"), tiny("b")
    stack.write({"a": a, "b": b})
    log = stack.root / "fg.log"
    env = {"STRANGLER_VAR_DIR": str(stack.var_dir), "STRANGLER_STACK_FILE": str(stack.file), "COLUMNS": "200"}
    fg = spawn([sys.executable, "-m", "strangler", "up", "a"], env=env, log_path=log, cwd=stack.root)
    try:
        state = wait_for(lambda: (stack.var_dir / "run" / "stack.json").exists()
                         and stack.state()["status"] == "running" and stack.state(), what="stack running")
        assert list(state["processes"]) == ["a"]  # only the named process
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{b['port']}/healthz")
        wait_for(lambda: "Stack is up" in log.read_text(), what="ready table")
        fg.send_signal(signal.SIGINT)  # what Ctrl-C does
        assert fg.wait(timeout=15) == 0
    finally:
        stop(fg)
    assert not pid_alive(state["processes"]["a"]["pid"])
    assert stack.state()["status"] == "stopped"


def test_down_handles_stale_pid_file_and_leftovers(tiny, stack):
    stack.write({"a": tiny("a")})
    dead = spawn([sys.executable, "-c", "pass"])
    dead.wait()
    run = stack.var_dir / "run"
    run.mkdir(parents=True)
    (run / "supervisor.pid").write_text(str(dead.pid))
    down = stack.cli("down")
    assert down.returncode == 0 and "Nothing is running" in down.stdout
    assert not (run / "supervisor.pid").exists()

    # a pid file whose pid now belongs to a younger, unrelated process is stale too: never signal it
    stranger = spawn([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (run / "supervisor.pid").write_text(str(stranger.pid))
        an_hour_ago = time.time() - 3600
        os.utime(run / "supervisor.pid", (an_hour_ago, an_hour_ago))
        down = stack.cli("down")
        assert down.returncode == 0 and "Nothing is running" in down.stdout
        assert stranger.poll() is None
    finally:
        stop(stranger)

    # a supervisor killed hard leaves its processes: `down` still stops them
    up = stack.cli("up", "-d")
    assert up.returncode == 0, up.stderr
    state = stack.state()
    os.kill(state["supervisor_pid"], signal.SIGKILL)
    down = stack.cli("down")
    assert down.returncode == 0 and "stopped leftover 'a'" in down.stdout
    assert not pid_alive(state["processes"]["a"]["pid"])


@pytest.mark.parametrize("setup, expected", [
    ([["{python}", "-c", "import sys; print('seeding broke'); sys.exit(4)"]],
     "setup command for 'a' failed with exit code 4"),
    ([["no-such-command-xyz"]], "setup command for 'a' cannot run"),
])
def test_setup_failure_aborts_up(tiny, stack, setup, expected):
    a = tiny("a", setup=setup)
    stack.write({"a": a})
    up = stack.cli("up")
    assert up.returncode == 1 and expected in up.stderr and "Traceback" not in up.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{a['port']}/healthz")


def test_bad_stack_file_is_one_clear_error(tiny, stack):
    stack.file.parent.mkdir(parents=True)
    stack.file.write_text("processes:\n  a:\n    command: [x]\n    port: lots\n")
    up = stack.cli("up", "-d")
    assert up.returncode == 2
    assert f"{stack.file}:4: processes.a.port" in up.stderr and "Traceback" not in up.stderr
