"""One owner per write, with real processes (issue 15, bugs 1 and 4): the monolith under gunicorn, the catalog
service, the façade and the catalog sync (tests/integration/write_safety/stack.py).

`catalog` in `new` while legacy owns its writes: reads are served by the service, a POST/PUT by legacy, and the
sync carries them to the service. `handover` refuses up front — with rows quarantined, with a stale sync,
without a reverse translator — naming the problem and its fix and changing nothing; once it succeeds, writes
are served by the service and reach legacy through the reverse sync.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from proxy.table import load_table
from tests.integration.migrate.conftest import ROOT, Databases, dbs, strangler  # noqa: F401 - dbs: the fixture
from tests.integration.write_safety.stack import WriteStack, write_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
POISON_SKU = "bad sku"  # a space: the service's SKU rule refuses it, so the sync quarantines the row


def _legacy(stack: WriteStack, sql: str, **params) -> list:
    legacy, catalog = stack.engines()
    try:
        with legacy.begin() as conn:
            result = conn.execute(text(sql), params)
            return result.all() if result.returns_rows else []
    finally:
        legacy.dispose()
        catalog.dispose()


def _service(stack: WriteStack, sql: str, **params) -> list:
    legacy, catalog = stack.engines()
    try:
        with catalog.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        legacy.dispose()
        catalog.dispose()


def _owner_everywhere(stack: WriteStack) -> tuple[str, str, int]:
    """(route table writes_owner, ownership.json writes_owner, ledger records) — what a refusal must not touch."""
    owner = load_table(stack.routes).features["catalog"].writes_owner.value
    recorded = json.loads((stack.dbs.var_dir / "ownership.json").read_text())["features"]["catalog"]["writes_owner"]
    ledger = stack.dbs.var_dir / "ledger.jsonl"
    return owner, recorded, len(ledger.read_text().splitlines()) if ledger.exists() else 0


def _refused(stack: WriteStack, *args: str, env: dict | None = None) -> str:
    before, table_text = _owner_everywhere(stack), stack.routes.read_text()
    done = strangler("migrate", "handover", "catalog", "--writes", "service", "--quiet", "0.5", *args,
                     env={**stack.env, **(env or {})}, check=False, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    output = " ".join((done.stdout + done.stderr).split())  # rich wraps long lines
    assert "handover of catalog to service refused; nothing changed" in output and "Fix:" in output, output
    assert _owner_everywhere(stack) == before and stack.routes.read_text() == table_text
    return output


def _post(stack: WriteStack, sku: str) -> httpx.Response:
    return httpx.post(f"{stack.url}/api/products", timeout=30,
                      json={"Sku": sku, "Name": f"Made {sku}", "Category": "TOOLS", "UnitPrice": "3.25"})


def test_writes_follow_the_owner_and_handover_refuses_what_would_lose_them(dbs: Databases, tmp_path: Path) -> None:  # noqa: F811
    with write_stack(dbs, tmp_path, products=30) as stack:
        stack.flip("new")
        read = httpx.get(f"{stack.url}/api/products/3", timeout=30)
        assert read.status_code == 200 and read.headers["X-Served-By"] == "catalog"

        # bug 1: in `new` with legacy owning writes, the POST and PUT are legacy's, then the sync's
        created = _post(stack, "SKU-OWNED-1")
        assert created.status_code == 201 and created.headers["X-Served-By"] == "legacy", created.text
        new_id = created.json()["ProductId"]
        assert _legacy(stack, "SELECT PROD_SKU FROM PRODUCTS WHERE PROD_ID = :i", i=new_id) == [("SKU-OWNED-1",)]
        changed = httpx.put(f"{stack.url}/api/products/{new_id}", json={"UnitPrice": "11.11"}, timeout=30)
        assert changed.status_code == 200 and changed.headers["X-Served-By"] == "legacy", changed.text
        stack.wait(lambda: _service(stack, "SELECT sku, price_minor FROM products WHERE id = :i", i=new_id)
                   == [("SKU-OWNED-1", 1111)], "the forward sync to carry the POST and PUT to the service")
        served = httpx.get(f"{stack.url}/api/products/{new_id}", timeout=30)
        assert served.headers["X-Served-By"] == "catalog" and served.json()["UnitPrice"] == "11.11"

        # bug 4 and friends: refused up front, each named with its fix, nothing changed
        _legacy(stack, "UPDATE PRODUCTS SET PROD_SKU = :s WHERE PROD_ID = 5", s=POISON_SKU)
        stack.wait(lambda: _service(stack, "SELECT COUNT(*) FROM _strangler_quarantine")[0][0] == 1,
                   "the sync to quarantine the bad row")
        output = _refused(stack)
        assert "1 row(s) of catalog are quarantined" in output and "--allow-quarantined" in output, output
        _legacy(stack, "UPDATE PRODUCTS SET PROD_SKU = 'SKU-5-FIXED' WHERE PROD_ID = 5")
        stack.wait(lambda: _service(stack, "SELECT COUNT(*) FROM _strangler_quarantine")[0][0] == 0,
                   "the fixed row to leave quarantine")

        one_way = tmp_path / "one_way.yaml"
        one_way.write_text((ROOT / "config" / "migrations.yaml").read_text().replace(
            "acl.catalog.mapping:PRODUCTS", "tests.integration.migrate.one_way_mapping:PRODUCTS"))
        output = _refused(stack, "--config", str(one_way))
        assert "no reverse translator (`to_source`) on PRODUCTS→products" in output, output
        assert "Fix: add `to_source`" in output, output

        stack.kill("sync")
        time.sleep(2.5)  # the sync's last report (second resolution) is now older than the 1 s limit below
        output = _refused(stack, env={"STRANGLER_SYNC_STALE_S": "1"})
        assert "the forward sync last reported" in output and "it is not running" in output, output
        assert "Fix: run `strangler migrate sync catalog`" in output, output
        stack.start_sync()

        done = stack.cli("migrate", "handover", "catalog", "--writes", "service", "--quiet", "1", "--json")
        result = json.loads(done.stdout)
        assert (result["writes_owner"], result["sync_direction"], result["changed"]) == ("service", "reverse", True)
        owner, recorded, _ = _owner_everywhere(stack)
        assert (owner, recorded) == ("service", "service")
        last = json.loads((stack.dbs.var_dir / "ledger.jsonl").read_text().splitlines()[-1])
        assert (last["from_writes_owner"], last["to_writes_owner"], last["to_state"]) == ("legacy", "service", "new")

        # the owner changed, so the façade's writes did (it reloaded the table during the drain's quiet second):
        # served by the service, carried back to legacy
        created = _post(stack, "SKU-SERVICE-1")
        assert created.status_code == 201 and created.headers["X-Served-By"] == "catalog", created.text
        service_id = created.json()["ProductId"]
        assert _service(stack, "SELECT sku FROM products WHERE id = :i", i=service_id) == [("SKU-SERVICE-1",)]
        stack.wait(lambda: _legacy(stack, "SELECT PROD_SKU FROM PRODUCTS WHERE PROD_ID = :i", i=service_id)
                   == [("SKU-SERVICE-1",)], "the reverse sync to carry the service's write to legacy")
