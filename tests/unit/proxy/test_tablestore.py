"""The TableStore contract (proxy/stores), run against both implementations: a YAML file with its JSONL ledger,
and PostgreSQL (a unique schema per test, dropped after; skipped only when STRANGLER_TEST_PG_URL is unset)."""
from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from proxy.flips import flip_feature
from proxy.shared_store import SharedStore
from proxy.stores import Ledger, StoreError, TableStore, open_ledger, open_table_store
from proxy.stores.files import FileTableStore, JsonlLedger
from proxy.table import State, TableError
from tests.unit.scale.test_shared_store import TABLE  # one small commented table for both store tests


def _pg_url() -> str:
    base = os.environ.get("STRANGLER_TEST_PG_URL", "").strip()
    if not base:
        pytest.skip("STRANGLER_TEST_PG_URL is not set: the PostgreSQL TableStore needs a server")
    return f"{base}{'&' if '?' in base else '?'}schema=ts_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["file", pytest.param("postgres", marks=pytest.mark.postgres)])
def location(request, tmp_path: Path) -> Iterator[tuple[Callable[[], TableStore], str]]:
    """(a factory of independent handles on ONE stored table, the kind); the table is seeded with TABLE."""
    if request.param == "file":
        path, ledger = tmp_path / "routes.yaml", tmp_path / "ledger.jsonl"
        path.write_text(TABLE)
        yield (lambda: FileTableStore(path, ledger=ledger)), "file"
        return
    url = _pg_url()
    first = SharedStore(url)
    first.push(TABLE, actor="test")
    try:
        yield (lambda: SharedStore(url)), "postgres"
    finally:
        first.drop()


def test_both_implementations_are_table_stores(location):
    store = location[0]()
    assert isinstance(store, TableStore) and isinstance(store, Ledger)


def test_read_gives_the_text_and_a_digest_that_follows_the_content(location):
    make, _ = location
    store = make()
    doc = store.read()
    assert doc.text == TABLE and doc.digest == store.read().digest
    store.push(TABLE.replace("state: legacy", "state: shadow"), actor="t")
    changed = make().read()  # another handle sees the new document
    assert "state: shadow" in changed.text and changed.digest != doc.digest


def test_load_validates_with_line_numbers(location):
    make, _ = location
    store = make()
    assert store.load().features["one"].state is State.LEGACY
    store.push(TABLE.replace("target: alpha", "target: nowhere"), actor="t")
    with pytest.raises(TableError) as err:
        store.load()
    assert err.value.line == 8 and "nowhere" in str(err.value)


def test_versions_count_writes_where_the_store_keeps_them(location):
    make, kind = location
    store = make()
    before = store.version()
    with store.locked() as table:
        table.write(table.text.replace("legacy", "shadow"), actor="t")
    if kind == "postgres":
        assert (before, store.version(), store.read().version) == (1, 2, 2)
    else:
        assert before is None and store.version() is None and store.read().version is None


def test_a_write_under_the_lock_replaces_the_table_and_an_error_before_it_writes_nothing(location):
    make, _ = location
    store = make()
    with store.locked() as table:
        assert table.text == TABLE
        table.write(TABLE.replace("state: legacy", "state: new"), actor="t")
    assert "state: new" in make().read().text
    with pytest.raises(RuntimeError), store.locked() as table:
        raise RuntimeError("refused before writing")
    assert "state: new" in make().read().text


def test_the_lock_is_exclusive_so_concurrent_edits_lose_nothing(location):
    """Eight threads (each its own handle) increment a counter kept in the document, under the lock."""
    make, _ = location
    make().push(TABLE + "# count: 0\n", actor="t")
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            store = make()
            with store.locked() as table:
                head, count = table.text.rsplit("# count: ", 1)
                table.write(f"{head}# count: {int(count) + 1}\n", actor="t")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and make().read().text.endswith("# count: 8\n")


def test_ledger_appends_read_back_oldest_first_by_feature_and_limit(location):
    make, _ = location
    store = make()
    for i, feature in enumerate(["one", "two", "one", "one"]):
        store.append_ledger({"feature": feature, "n": i, "to_state": "shadow"})
    other = make()
    assert [r["n"] for r in other.read_ledger()] == [0, 1, 2, 3]
    assert [r["n"] for r in other.read_ledger("one")] == [0, 2, 3]
    assert [r["n"] for r in other.read_ledger("one", 2)] == [2, 3]
    assert other.read_ledger("nobody") == []
    assert other.ledger_name  # named for messages


def test_a_flip_edits_the_table_and_ledgers_in_the_same_store(location):
    make, _ = location
    record = flip_feature(make(), "one", "shadow", actor="tester", reason="why", read_figures=False)
    store = make()
    assert record.changed and "state: shadow   # inline comment" in store.read().text
    assert [(r["actor"], r["to_state"]) for r in store.read_ledger("one")] == [("tester", "shadow")]


def test_watch_reports_a_change_made_through_another_handle(location):
    make, _ = location
    watcher, writer = make(), make()
    watcher.read()  # the file store compares against what it last read

    async def scenario() -> None:
        seen = asyncio.Event()
        task = asyncio.create_task(watcher.watch(seen.set, lambda: 0.05))
        try:
            async with asyncio.timeout(20):
                await asyncio.sleep(0.2)  # listening (PostgreSQL) / polling (file)
                seen.clear()  # a listener's first catch-up call is allowed; we want the edit's
                await asyncio.to_thread(writer.push, TABLE.replace("legacy", "shadow"), actor="t")
                await seen.wait()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())


def test_the_resolver_is_the_one_place_that_looks_at_a_location(tmp_path, monkeypatch):
    monkeypatch.delenv("STRANGLER_STORE_URL", raising=False)
    path = tmp_path / "routes.yaml"
    store = open_table_store(path)
    assert isinstance(store, FileTableStore) and str(store) == str(path) and open_table_store(store) is store
    assert isinstance(open_table_store("postgresql+psycopg://u@127.0.0.1:1/db?schema=s"), SharedStore)
    with pytest.raises(StoreError, match="not a PostgreSQL URL"):
        open_table_store(str(path), shared=True)  # a --store value is never taken for a file
    with pytest.raises(StoreError, match="no route table given"):
        open_table_store(None)
    assert isinstance(open_ledger(None), JsonlLedger) and open_ledger(store) is store
    monkeypatch.setenv("STRANGLER_STORE_URL", "postgresql+psycopg://u@127.0.0.1:1/db?schema=s")
    assert isinstance(open_table_store(None), SharedStore) and isinstance(open_ledger(None), SharedStore)
