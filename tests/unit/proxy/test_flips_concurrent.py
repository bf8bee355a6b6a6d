"""Several processes flipping at once: the file is never corrupt, no flip is lost, each is in the ledger."""
from __future__ import annotations

import itertools
import multiprocessing
from pathlib import Path

from proxy.flips import flip_feature
from proxy.ledger import read_records
from proxy.table import State, load_table

WORKERS = 4
FLIPS_EACH = 8


def _worker(routes: str, ledger: str, worker: int, start, errors, changed) -> None:
    start.wait(10)
    done = 0
    try:
        for j in range(FLIPS_EACH):
            # workers contend on both features; some flips may find the feature already there (no-op)
            done += flip_feature(Path(routes), "one" if worker % 2 == 0 else "two",
                         State.SHADOW if j % 2 == 0 else State.LEGACY, actor=f"w{worker}",
                         ledger_path=Path(ledger)).changed
            # a distinct percent per (worker, j): this flip always changes the table
            done += flip_feature(Path(routes), "two" if worker % 2 == 0 else "one", "canary",
                         percent=worker * FLIPS_EACH + j + 1, actor=f"w{worker}", ledger_path=Path(ledger)).changed
            load_table(Path(routes))  # readers never see half a file
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        errors.put(f"w{worker}: {type(exc).__name__}: {exc}")
    changed.put(done)


def test_concurrent_flips_from_processes(routes_file: Path, ledger_file: Path):
    ctx = multiprocessing.get_context("fork")
    start, errors, changed = ctx.Event(), ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(routes_file), str(ledger_file), w, start, errors, changed))
             for w in range(WORKERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        p.kill()
    assert not alive, "a flipping process hung"
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == [] and all(p.exitcode == 0 for p in procs)

    table = load_table(routes_file)  # still valid YAML and a valid table
    text = routes_file.read_text()
    assert "# top comment: kept across flips" in text and "# feature comment: kept too" in text
    records = read_records(ledger_file)
    changed_total = sum(changed.get(timeout=5) for _ in procs)
    assert WORKERS * FLIPS_EACH <= changed_total <= WORKERS * FLIPS_EACH * 2
    assert len(records) == changed_total  # every real flip, and only those, is in the ledger
    # no lost update: per feature, each flip starts where the previous one ended, and the file shows the last
    for name, feature in table.features.items():
        chain = [r for r in records if r["feature"] == name]
        for prev, cur in itertools.pairwise(chain):
            assert (cur["from_state"], cur["from_percent"]) == (prev["to_state"], prev["to_percent"])
        assert chain[-1]["to_state"] == feature.state.value
        if feature.state is State.CANARY:
            assert chain[-1]["to_percent"] == feature.canary_percent
