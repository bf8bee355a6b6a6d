"""Ownership (declared / inferred / ties), coupling edges, extraction order and the per-feature view."""
import pytest

from strangler.footprint.analysis import analyse_capture, feature_view
from strangler.footprint.config import ConfigError, FootprintConfig, load_config
from strangler.footprint.readers import Capture

WORKLOAD = [  # (module, endpoint, method, sql, times)
    ("billing", "billing.create", "POST", "INSERT INTO INVOICE (CUST, AMT) VALUES (1, 2.5)", 5),
    ("billing", "billing.create", "POST", "SELECT RATE FROM TAXRATE WHERE RGN = 'EU'", 5),
    ("billing", "billing.create", "POST", "UPDATE LEDGER SET BAL = BAL + 2.5 WHERE ACC = 7", 5),
    ("billing", "billing.list", "GET", "SELECT * FROM INVOICE WHERE CUST = 1", 3),
    ("accounts", "accounts.post", "POST", "UPDATE LEDGER SET BAL = BAL - 1 WHERE ACC = 7", 9),
    ("accounts", "accounts.get", "GET", "SELECT BAL FROM LEDGER WHERE ACC = 7", 2),
    ("tax", "tax.set", "PUT", "UPDATE TAXRATE SET RATE = 0.2 WHERE RGN = 'EU'", 1),
    ("reports", "reports.daily", "GET",
     "WITH t AS (SELECT CUST, SUM(AMT) AS s FROM INVOICE GROUP BY CUST) SELECT * FROM t", 1),
    ("(no request)", None, None, "UPDATE INVOICE SET AMT = 0", 50),  # a batch job: never owns, never couples
    ("billing", "billing.list", "GET", "SELEC broken", 2),
    ("billing", "billing.list", "GET", "COMMIT", 4),
]


def capture(rows=WORKLOAD) -> Capture:
    cap = Capture()
    for module, endpoint, method, sql, times in rows:
        for _ in range(times):
            cap.add(sql, module, endpoint, method)
    return cap


def test_inferred_ownership_coupling_and_counts():
    result = analyse_capture(capture())
    tables = result["tables"]
    assert tables["INVOICE"]["owner"] == "billing"  # the batch job's 50 writes do not count
    assert tables["LEDGER"]["owner"] == "accounts" and tables["LEDGER"]["owner_source"] == "inferred from writes"
    assert tables["TAXRATE"]["owner"] == "tax"
    edges = {(e["module"], e["table"], e["owner"], e["access"]) for e in result["coupling"]}
    assert edges == {("billing", "LEDGER", "accounts", "read/write"), ("billing", "TAXRATE", "tax", "read"),
                     ("reports", "INVOICE", "billing", "read")}
    ledger = next(e for e in result["coupling"] if e["table"] == "LEDGER")
    assert ledger["reads"] == 5 and ledger["writes"] == 5 and ledger["endpoints"] == ["POST billing.create"]
    assert ledger["examples"] == ["UPDATE LEDGER SET BAL = BAL + ? WHERE ACC = ?"]
    stats = result["stats"]
    assert stats["statements"] == 87 and stats["unparseable"] == 2 and stats["control"] == 4
    assert result["errors"][0]["sql"] == "SELEC broken" and result["errors"][0]["count"] == 2


def test_endpoints_are_reported_separately():
    result = analyse_capture(capture())
    by_endpoint = {(e["method"], e["endpoint"]): e for e in result["endpoints"]}
    assert set(by_endpoint[("GET", "billing.list")]["reads"]) == {"INVOICE"}
    assert set(by_endpoint[("POST", "billing.create")]["writes"]) == {"INVOICE", "LEDGER"}


def test_ownership_tie_is_reported():
    rows = [("a", "a.x", "POST", "UPDATE SHARED SET V = 1", 3), ("b", "b.x", "POST", "UPDATE SHARED SET V = 2", 3)]
    result = analyse_capture(capture(rows))
    assert result["ownership_ties"] == {"SHARED": ["a", "b"]}


def test_declared_ownership_wins_over_writes():
    config = FootprintConfig(modules={"billing": ["ledger"]})  # case-insensitive, config spelling reported
    result = analyse_capture(capture(), config)
    assert result["tables"]["ledger"]["owner"] == "billing"
    assert result["tables"]["ledger"]["owner_source"] == "config"
    assert ("accounts", "ledger", "billing") in {(e["module"], e["table"], e["owner"]) for e in result["coupling"]}


def test_extraction_order_fewest_inbound_then_fewest_outbound():
    result = analyse_capture(capture())
    order = [(r["module"], r["inbound"], r["outbound"]) for r in result["extraction_order"]]
    # reports: nobody depends on it, 1 outbound; accounts/tax: 1 inbound, 0 out; billing: 1 in, 2 out
    assert order == [("reports", 0, 1), ("accounts", 1, 0), ("tax", 1, 0), ("billing", 1, 2)]
    first = result["extraction_order"][0]
    assert "no other module touches its tables" in first["reason"] and "INVOICE (billing)" in first["reason"]


def test_feature_view_lists_tables_and_acl_both_ways():
    config = FootprintConfig(features={"invoicing": ["billing"]})
    view = feature_view(analyse_capture(capture(), config), "invoicing")
    assert [t["table"] for t in view["tables_to_move"]] == ["INVOICE"]
    assert {(e["table"], e["access"]) for e in view["acl_outbound"]} == {("LEDGER", "read/write"), ("TAXRATE", "read")}
    assert {(e["module"], e["table"]) for e in view["acl_inbound"]} == {("reports", "INVOICE")}
    with pytest.raises(KeyError, match="unknown feature"):
        feature_view(analyse_capture(capture(), config), "nope")


def test_config_errors_are_clear(tmp_path):
    bad = tmp_path / "f.yaml"
    bad.write_text("modules:\n  a: [T]\n  b: [t]\n")
    with pytest.raises(ConfigError, match="owned by both a and b"):
        load_config(bad)
    bad.write_text("dialect: klingon\n")
    with pytest.raises(ConfigError, match="unknown SQL dialect"):
        load_config(bad)
    bad.write_text("modules: [oops\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.yaml", required=True)
    assert load_config(tmp_path / "missing.yaml") == FootprintConfig()
