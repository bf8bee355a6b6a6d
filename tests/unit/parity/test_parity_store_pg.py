"""The parity store on both backends (SQLite file, PostgreSQL schema): same counts, window, example cap,
bounded queue, several writer processes; and how the store location is chosen (ONE setting moves it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proxy.parity.store import (
    ParityStore,
    configured_store,
    open_store,
    parity_location,
)
from tests.unit.parity.parity_samples import result

REPO = Path(__file__).resolve().parents[3]
PG_ENV = "STRANGLER_TEST_PG_URL"
Opener = Callable[..., ParityStore]


def pg_url() -> str:
    base = os.environ.get(PG_ENV, "").strip()
    if not base:
        pytest.skip(f"{PG_ENV} is not set (e.g. postgresql+psycopg://root@127.0.0.1:5432/test): the PostgreSQL "
                    "parity store tests need a server")
    return f"{base}{'&' if '?' in base else '?'}schema=t_parity_{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def location(request, tmp_path: Path) -> Iterator[str]:
    """A fresh store location: a file, or a unique PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield str(tmp_path / "parity.db")
        return
    from proxy.shared_store import store_for

    url = pg_url()
    yield url
    store_for(url).drop()


@pytest.fixture
def opener(location: str) -> Opener:
    return lambda **kw: open_store(location if "://" in location else Path(location), **kw)


def test_counts_rates_verdicts_and_example_cap(opener: Opener) -> None:
    with opener(examples_per_field=3, background=False) as store:
        for i in range(100):
            store.record(result(i, price="2.00" if i < 10 else "1.00", noise=i % 2 == 0))
        for i in range(5):
            store.record(result(100 + i, error=True))
        assert store.flush() == 105
        (route,) = store.route_stats("f")
        assert (route.compared, route.noise_samples, route.errors) == (100, 50, 5)
        stats = {s.field: s for s in store.field_stats("f")}
        assert stats["$.Price"].counts.raw == 10 and stats["$.Price"].verdict.value == "real"
        assert stats["$.Price"].examples == 3
        assert stats["$.T"].counts.noise == 50 and stats["$.T"].verdict.value == "noise"
        assert store.noise_fields("f") == ["$.T"]
        example = store.examples("f", "$.Price")[0]
        assert example.request["path"] == "/items/0" and example.difference["candidate"] == "2.00"
        assert store.example(example.id) == example and store.example(10**9) is None
        # a second batch adds to the counters and keeps the example cap
        for i in range(10):
            store.record(result(200 + i, price="3.00"))
        store.flush()
        stats = {s.field: s for s in store.field_stats("f")}
        assert stats["$.Price"].counts.raw == 20 and stats["$.Price"].examples == 3
        assert store.route_stats("f")[0].compared == 110


def test_window_rates_p95_and_pruning(opener: Opener) -> None:
    with opener(window_keep=40, background=False) as store:
        for i in range(50):  # old, all mismatching: outside the window below, and pruned
            store.record(result(i, price="9.00", noise=True, latency=1000))
        store.flush()
        for i in range(20):
            store.record(result(100 + i, price="9.00" if i < 4 else "1.00", error=i == 19, noise=True,
                                latency=float(i + 1)))
        store.flush()
        window = store.window("f", last=20)
        assert (window.samples, window.mismatches, window.errors) == (20, 4, 1)
        assert window.diff_rate == 4 / 19 and window.error_rate == 1 / 20 and window.p95_ms == 19.0
        assert store.window("f", last=1000).samples == 40  # pruned to window_keep
        assert store.window("other").samples == 0


def test_recent_window_per_route_keeps_cause_facts_and_ignored_fields(opener: Opener) -> None:
    from proxy.parity.recent import evaluate
    from proxy.table import ParityConfig

    with opener(background=False) as store:
        for i in range(12):
            store.record(result(i, price="2.00" if i < 6 else "1.00", noise=True, error=i == 11))
        store.flush()
        recent = store.recent("f", 5)
        assert [s.route for s in recent] == ["/items/{id}"] * 5 and recent[-1].error
        assert recent[0].detail["cause"] == "body" and recent[0].detail["noise"] == ["$.T"]
        assert recent[0].detail["status"] == [200, 200] and recent[0].detail["headers"] == []
        old = evaluate("f", store.recent("f", 100), ParityConfig())
        assert (old.compared, old.errors, old.mismatches) == (11, 1, 6)
        assert evaluate("f", store.recent("f", 100), ParityConfig(ignore=["$.Price"])).mismatches == 0


def test_bounded_queue_drops_and_counts(opener: Opener) -> None:
    with opener(max_pending=10, background=False) as store:
        for i in range(15):
            store.record(result(i))
        assert store.dropped == 5 and store.flush() == 10 and store.route_stats()[0].compared == 10


def test_background_writer_and_reset_of_one_feature(opener: Opener) -> None:
    store = opener(flush_interval=0.05, batch_size=25)
    for i in range(120):
        store.record(result(i, feature=f"t{i % 2}", price="2.00"))
    store.close()
    with opener(background=False) as reader:
        assert sum(r.compared for r in reader.route_stats()) == 120 and reader.features() == ["t0", "t1"]
        reader.reset("t0")
        assert reader.features() == ["t1"] and reader.examples("t0") == [] and reader.window("t0").samples == 0


WRITER = """
import sys
from proxy.parity.normalise import Normaliser, Response
from proxy.parity.result import RequestInfo, compare_exchange
from proxy.parity.store import configured_store
store = configured_store(sys.argv[1], batch_size=20, flush_interval=0.01, examples_per_field=4)
ok = Response.of(200, {'content-type': 'application/json'}, '{"a": 1, "b": 1}')
bad = Response.of(200, {'content-type': 'application/json'}, '{"a": 2, "b": 2}')
for i in range(300):
    store.record(compare_exchange(Normaliser(), feature='f', route=f'/r{i % 3}', request=RequestInfo.of('GET', '/r'),
                 reference=ok, candidate=bad if i % 3 == 0 else ok))
store.close()
"""


def test_two_writer_processes_add_up_and_keep_the_example_cap(location: str) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, location], cwd=REPO) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with open_store(location if "://" in location else Path(location), background=False) as store:
        assert sum(r.compared for r in store.route_stats("f")) == 600
        fields = {(s.route, s.field): s for s in store.field_stats("f")}
        assert set(fields) == {("/r0", "$.a"), ("/r0", "$.b")}
        assert [fields[k].counts.raw for k in sorted(fields)] == [200, 200]
        assert [fields[k].examples for k in sorted(fields)] == [4, 4]  # capped across both writers


def test_cli_reads_the_store_given_by_option_or_the_one_setting(location: str, monkeypatch) -> None:
    import strangler.cli.parity  # noqa: F401 - registers `parity` on the app
    from strangler.cli.app import app

    with open_store(location if "://" in location else Path(location), background=False) as store:
        for i in range(6):
            store.record(result(i, price="2.00" if i < 2 else "1.00"))
    monkeypatch.delenv("STRANGLER_PARITY_STORE", raising=False)
    if "://" in location:  # the shared store's ONE setting, no --store
        monkeypatch.setenv("STRANGLER_STORE_URL", location)
        args: list[str] = []
    else:
        monkeypatch.delenv("STRANGLER_STORE_URL", raising=False)
        args = ["--store", location]
    out = CliRunner().invoke(app, ["parity", "report", "--json", *args])
    assert out.exit_code == 0, out.output
    feat = json.loads(out.output)["features"]["f"]
    assert feat["compared"] == 6 and feat["verdict"] == "mismatch" and "password" not in out.output
    out = CliRunner().invoke(app, ["parity", "examples", "f", "--field", "$.Price", "--json", *args])
    assert out.exit_code == 0 and len(json.loads(out.output)) == 2
    out = CliRunner().invoke(app, ["parity", "reset", "f", *args])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(app, ["parity", "report", "--json", *args])
    assert json.loads(out.output)["features"] == {}


def test_location_precedence(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("STRANGLER_PARITY_STORE", raising=False)
    monkeypatch.delenv("STRANGLER_STORE_URL", raising=False)
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path))
    from strangler.settings import get_settings
    assert Path(parity_location()) == get_settings().var_dir / "parity.db"
    url = "postgresql+psycopg://u@127.0.0.1:5432/db?schema=s"
    monkeypatch.setenv("STRANGLER_STORE_URL", url)
    assert parity_location() == url  # the shared store's one setting moves the parity counts too
    monkeypatch.setenv("STRANGLER_PARITY_STORE", str(tmp_path / "own.db"))
    assert parity_location() == str(tmp_path / "own.db")  # an explicit parity store wins
    assert parity_location(tmp_path / "opt.db") == tmp_path / "opt.db"  # and an option over that
    with configured_store(tmp_path / "opt.db", background=False) as store:
        assert type(store) is ParityStore and store.path == tmp_path / "opt.db"


def test_bad_store_url_is_a_clear_cli_error(tmp_path: Path) -> None:
    import strangler.cli.parity  # noqa: F401
    from strangler.cli.app import app

    out = CliRunner().invoke(app, ["parity", "report", "--store",
                                   "postgresql+psycopg://root@127.0.0.1:5432/x?schema=no-dash"])
    assert out.exit_code == 1 and "schema" in out.output and "Traceback" not in out.output
    out = CliRunner().invoke(app, ["parity", "report", "--store", str(tmp_path / "missing.db")])
    assert out.exit_code == 1 and "no parity store" in out.output


def test_dry_run_target_state_changes_once_and_outlives_the_store(opener: Opener) -> None:
    """The shadow worker's unsafe mark (proxy/shadow/safety.py): the first writer that changes it is told so
    (it alone ledgers it), a repeat is not, `reset` keeps it, and a new process reads it back."""
    with opener(background=False) as store:
        assert store.targets() == {}
        assert store.mark_target("svc", "proven", feature="items", url="http://127.0.0.1:1", reason="probe ok")
        assert store.mark_target("svc", "unsafe", feature="items", url="http://127.0.0.1:1", reason="no ack",
                                 first_answer_at=1000.0)
        assert not store.mark_target("svc", "unsafe", feature="items", url="http://127.0.0.1:1", reason="again")
        store.reset()
    with opener(background=False) as store:
        target = store.targets()["svc"]
        assert (target["state"], target["reason"], target["first_answer_at"]) == ("unsafe", "no ack", 1000.0)
        assert target["marked_at"] >= 1000.0
