"""The SQLite parity store: counts and rates, examples, the rollback window, concurrent writers."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from proxy.parity.store import ParityStore
from tests.unit.parity.parity_samples import result

REPO = Path(__file__).resolve().parents[3]


def test_counts_rates_verdicts_and_example_cap(tmp_path: Path) -> None:
    with ParityStore(tmp_path / "p.db", examples_per_field=3, background=False) as store:
        for i in range(100):
            store.record(result(i, price="2.00" if i < 10 else "1.00", noise=i % 2 == 0))
        for i in range(5):
            store.record(result(100 + i, error=True))
        assert store.flush() == 105
        (route,) = store.route_stats("f")
        assert (route.compared, route.noise_samples, route.errors) == (100, 50, 5)
        stats = {s.field: s for s in store.field_stats("f")}
        assert stats["$.Price"].counts.raw == 10 and stats["$.Price"].counts.raw_rate == 0.10
        assert stats["$.Price"].verdict.value == "real" and stats["$.Price"].examples == 3
        assert stats["$.T"].counts.noise_rate == 1.0 and stats["$.T"].verdict.value == "noise"
        assert store.noise_fields("f") == ["$.T"]
        example = store.examples("f", "$.Price")[0]
        assert example.request["path"] == "/items/0" and example.difference["candidate"] == "2.00"
        assert example.reference_url == "http://127.0.0.1:1" and store.example(example.id) == example


def test_window_reports_diff_rate_error_rate_and_p95_of_the_last_samples(tmp_path: Path) -> None:
    with ParityStore(tmp_path / "p.db", background=False) as store:
        for i in range(50):  # old, all mismatching: outside the window below
            store.record(result(i, price="9.00", noise=True, latency=1000))
        for i in range(20):
            store.record(result(100 + i, price="9.00" if i < 4 else "1.00", error=i == 19, noise=True,
                                latency=float(i + 1)))
        store.flush()
        window = store.window("f", last=20)
        assert (window.samples, window.mismatches, window.errors) == (20, 4, 1)
        assert window.diff_rate == 4 / 19 and window.error_rate == 1 / 20
        assert window.p95_ms == 19.0  # nearest rank of 20 latencies 1..20 (the error has one too)


def test_window_keeps_only_the_most_recent_samples(tmp_path: Path) -> None:
    with ParityStore(tmp_path / "p.db", window_keep=30, background=False) as store:
        for i in range(100):
            store.record(result(i))
        store.flush()
        assert store.window("f", last=1000).samples == 30  # pruned to window_keep at each flush
        assert store.route_stats("f")[0].compared == 100  # totals are not pruned


def test_background_flush_and_many_threads(tmp_path: Path) -> None:
    store = ParityStore(tmp_path / "p.db", flush_interval=0.05, batch_size=25)
    threads = [threading.Thread(target=lambda k=k: [store.record(result(k * 1000 + i, feature=f"t{k % 2}"))
                                                     for i in range(200)]) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    reader = ParityStore(tmp_path / "p.db", background=False)
    assert sum(r.compared for r in reader.route_stats()) == 1600 and reader.dropped == 0
    assert reader.features() == ["t0", "t1"]
    reader.reset("t0")
    assert reader.features() == ["t1"]
    reader.close()




def test_two_processes_write_the_same_file(tmp_path: Path) -> None:
    code = ("import sys, json\n"
            "from proxy.parity.normalise import Normaliser, Response\n"
            "from proxy.parity.result import RequestInfo, compare_exchange\n"
            "from proxy.parity.store import ParityStore\n"
            "store = ParityStore(sys.argv[1], batch_size=20, flush_interval=0.01)\n"
            "ok = Response.of(200, {'content-type': 'application/json'}, '{\"a\": 1}')\n"
            "bad = Response.of(200, {'content-type': 'application/json'}, '{\"a\": 2}')\n"
            "for i in range(300):\n"
            "    store.record(compare_exchange(Normaliser(), feature='f', route='/r',"
            " request=RequestInfo.of('GET', '/r'), reference=ok, candidate=bad if i % 3 == 0 else ok))\n"
            "store.close()\n")
    db = str(tmp_path / "shared.db")
    procs = [subprocess.Popen([sys.executable, "-c", code, db], cwd=REPO) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    with ParityStore(db, background=False) as store:
        (route,) = store.route_stats("f")
        (field,) = store.field_stats("f")
        assert route.compared == 600 and field.counts.raw == 200
