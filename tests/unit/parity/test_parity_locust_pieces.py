"""Mix parsing, loopback guard and thresholds of the Locust side.

Importing locust monkey-patches the standard library (gevent), so these checks run in a child interpreter
instead of inside the test process, and report back as JSON.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def run_py(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_demo_mix_loads_and_renders_params_into_paths_and_bodies() -> None:
    out = run_py("""
        import json, random
        from load.locust_base import load_mix
        read = load_mix("config/load-mix.yaml", "read")
        write = load_mix("config/load-mix.yaml", "write")
        order = [e for e in write if e.name == "place order"][0]
        path, body = order.render(random.Random(3), {"n": 5})  # a logged-in user's values (mix login:)
        get = [e for e in read if e.route == "/api/products/{id}"][0]
        gpath, _ = get.render(random.Random(3))
        print(json.dumps({"read": len(read), "write": len(write), "body": body, "path": gpath,
                          "label": get.label, "accepts": [get.accepts(s) for s in (200, 404, 500)],
                          "safe": [e.safe for e in write]}))
    """)
    assert out["read"] >= 6 and out["write"] >= 2
    assert isinstance(out["body"]["CustomerId"], int) and isinstance(out["body"]["Lines"][0]["Quantity"], int)
    assert out["path"].startswith("/api/products/") and out["path"].split("/")[-1].isdigit()
    assert out["label"] == "/api/products/{id}" and out["accepts"] == [True, True, False]
    assert out["safe"] == [False, False, False, True]  # create customer, place order, change a price, get product


def test_bad_mixes_and_remote_targets_get_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("mixes:\n  read:\n    - path: /a/{id}\n      weight: 1\n")
    out = run_py(f"""
        import json
        from load.locust_base import MixError, load_mix, require_loopback
        errors = []
        for args in (({str(bad)!r}, "read"), ({str(bad)!r}, "nope"), ("/does/not/exist.yaml", "read")):
            try:
                load_mix(*args)
            except MixError as exc:
                errors.append(str(exc))
        for url in ("http://10.0.0.1:80", "ftp://127.0.0.1"):
            try:
                require_loopback(url, "base URL")
            except MixError as exc:
                errors.append(str(exc))
        ok = require_loopback("http://127.0.0.1:5000/", "base URL")
        print(json.dumps({{"errors": errors, "ok": ok}}))
    """)
    e = out["errors"]
    assert "params does not define them" in e[0] and "Fix:" in e[0]
    assert "no mix named 'nope'" in e[1] and "read" in e[1]
    assert "cannot read the mix file" in e[2]
    assert "not a loopback address" in e[3] and "not an http(s) URL" in e[4]
    assert out["ok"] == "http://127.0.0.1:5000"


def test_thresholds_name_each_crossed_limit() -> None:
    out = run_py("""
        import json
        from locust.exception import CatchResponseError
        from locust.stats import RequestStats
        from load.thresholds import Limits, evaluate
        stats = RequestStats()
        for i in range(100):
            stats.log_request("GET", "/items/{id}", 10 + i, 50)
            stats.log_request("GET", "[reference] /items/{id}", 5, 50)
        for _ in range(4):
            stats.log_error("GET", "/items/{id}", CatchResponseError("parity mismatch: $.Price, $.Name"))
        stats.log_error("GET", "/items/{id}", CatchResponseError("unexpected status 500"))
        strict = evaluate(stats, Limits(max_fail_ratio=0.01, max_p95_ms=50, max_mismatch_rate=0.0))
        loose = evaluate(stats, Limits(max_fail_ratio=0.5, max_p95_ms=10_000, max_mismatch_rate=0.05))
        empty = evaluate(RequestStats(), Limits(max_p95_ms=1))
        print(json.dumps({"strict": strict.failures, "loose": loose.failures, "empty": empty.failures,
                          "fields": strict.mismatch_fields, "rate": strict.mismatch_rate,
                          "compared": strict.compared}))
    """)
    assert len(out["strict"]) == 3
    assert out["strict"][0].startswith("fail ratio") and "p95" in out["strict"][1]
    assert "parity mismatch rate 4.00%" in out["strict"][2] and "$.Price (4)" in out["strict"][2]
    assert out["loose"] == [] and out["compared"] == 100 and out["rate"] == 0.04
    assert out["fields"] == {"$.Price": 4, "$.Name": 4}
    assert out["empty"] == ["no requests were made (is the target up? see the log above)"]
