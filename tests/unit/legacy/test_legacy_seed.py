"""Seed data is deterministic, consistent with itself, and idempotent."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import text

from legacy_monolith.__main__ import main
from legacy_monolith.db import make_engine
from legacy_monolith.seed import generate, seed

TABLES = ("PRODUCTS", "CUSTOMERS", "WAREHOUSES", "STOCK", "ORDERS", "ORD_LINES")


def _dump(url: str) -> dict[str, list[tuple]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        dump = {t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))] for t in TABLES}
    engine.dispose()
    return dump


def test_generate_is_a_pure_function_of_its_arguments() -> None:
    assert generate(30, 10, 50) == generate(30, 10, 50)
    assert generate(30, 10, 50) != generate(30, 10, 50, rng_seed=7)


def test_generated_data_is_internally_consistent() -> None:
    data = generate(60, 20, 300)
    assert len({p["PROD_SKU"] for p in data.products}) == 60
    assert len({c["CUST_EMAIL"] for c in data.customers}) == 20
    assert {p["ACTV_FLG"] for p in data.products} == {"Y", "N"} or len(data.products) < 100
    assert {o["ORD_STS"] for o in data.orders} == set("NPSDC")
    open_lines: dict[tuple[int, str], int] = defaultdict(int)
    status = {o["ORD_ID"]: o["ORD_STS"] for o in data.orders}
    totals: dict[int, float] = defaultdict(float)
    for line in data.lines:
        totals[line["ORD_ID"]] += float(line["UNIT_PRC"] * line["QTY"])
        if status[line["ORD_ID"]] in "NP":
            open_lines[(line["PROD_ID"], line["WH_CD"])] += line["QTY"]
    for row in data.stock:
        assert row["QTY_RSRVD"] == open_lines[(row["PROD_ID"], row["WH_CD"])]
        assert row["QTY_ON_HND"] >= row["QTY_RSRVD"] >= 0
    for order in data.orders:
        assert order["ORD_TOT"] == pytest.approx(totals[order["ORD_ID"]])
        assert 1 <= sum(1 for ln in data.lines if ln["ORD_ID"] == order["ORD_ID"]) <= 5


def test_two_databases_get_identical_rows_and_reseeding_inserts_nothing(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db")]
    for url in urls:
        engine = make_engine(url)
        inserted = seed(engine, products=25, customers=10, orders=40)
        assert inserted["PRODUCTS"] == 25 and inserted["ORDERS"] == 40 and inserted["STOCK"] == 75
        assert not any(seed(engine, products=25, customers=10, orders=40).values())
        engine.dispose()
    first, second = _dump(urls[0]), _dump(urls[1])
    assert first == second
    assert len(first["WAREHOUSES"]) == 3 and len(first["ORDERS"]) == 40


def test_cli_seed_prints_counts_and_refuses_orders_without_products(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["seed", "--database-url", url, "--products", "5", "--customers", "3", "--orders", "4"]) == 0
    assert "PRODUCTS=5" in capsys.readouterr().out
    assert main(["seed", "--database-url", url, "--products", "5", "--customers", "3", "--orders", "4"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    bad = f"sqlite:///{tmp_path / 'bad.db'}"
    assert main(["seed", "--database-url", bad, "--products", "0", "--orders", "4"]) == 2
    assert "orders need at least one product" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["seed", "--products", "-1"])
