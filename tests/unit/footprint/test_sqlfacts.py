"""Scope-aware table/column extraction: CTE names and subquery aliases are never tables."""
from strangler.footprint.sqlfacts import analyse


def test_cte_and_subquery_alias_are_not_tables():
    facts = analyse("WITH recent AS (SELECT CUST_ID, ORD_TOT FROM ORDERS WHERE ORD_DT > ?) "
                    "SELECT r.CUST_ID, t.n FROM recent r JOIN (SELECT CUST_ID, COUNT(*) AS n FROM ORD_LINES "
                    "GROUP BY CUST_ID) AS t ON t.CUST_ID = r.CUST_ID")
    assert facts.error is None
    assert set(facts.reads) == {"ORDERS", "ORD_LINES"}
    assert facts.reads["ORDERS"] == {"CUST_ID", "ORD_TOT", "ORD_DT"}
    assert facts.writes == {}


def test_cte_named_like_a_real_table_elsewhere_is_still_not_a_table():
    facts = analyse("WITH STOCK AS (SELECT PROD_ID FROM PRODUCTS) SELECT PROD_ID FROM STOCK")
    assert set(facts.reads) == {"PRODUCTS"}


def test_aliases_and_joins_resolve_columns():
    facts = analyse("SELECT p.PROD_NM, s.QTY_ON_HND FROM PRODUCTS p JOIN STOCK s ON s.PROD_ID = p.PROD_ID "
                    "WHERE p.ACTV_FLG = ?")
    assert facts.reads == {"PRODUCTS": {"PROD_NM", "ACTV_FLG", "PROD_ID"}, "STOCK": {"QTY_ON_HND", "PROD_ID"}}


def test_unqualified_columns_with_two_tables_are_not_guessed():
    facts = analyse("SELECT PROD_NM FROM PRODUCTS, STOCK")
    assert facts.reads == {"PRODUCTS": set(), "STOCK": set()}


def test_correlated_subquery_columns_resolve_to_their_tables():
    facts = analyse("SELECT o.ORD_ID FROM ORDERS o WHERE EXISTS (SELECT 1 FROM ORD_LINES l WHERE l.ORD_ID = o.ORD_ID)")
    assert facts.reads == {"ORDERS": {"ORD_ID"}, "ORD_LINES": {"ORD_ID"}}


def test_update_that_reads_its_row_is_read_and_write():
    facts = analyse("UPDATE STOCK SET QTY_RSRVD = QTY_RSRVD + ? WHERE PROD_ID = ? AND WH_CD = ?")
    assert facts.kind == "update"
    assert facts.writes == {"STOCK": {"QTY_RSRVD"}}
    assert facts.reads == {"STOCK": {"QTY_RSRVD"}}


def test_plain_update_is_write_only():
    facts = analyse("UPDATE PRODUCTS SET PROD_NM = ?, UPD_DT = ? WHERE PROD_ID = ?")
    assert facts.writes == {"PRODUCTS": {"PROD_NM", "UPD_DT"}}
    assert facts.reads == {}


def test_update_with_subquery_reads_the_other_table():
    facts = analyse("UPDATE ORDERS SET ORD_TOT = (SELECT SUM(QTY) FROM ORD_LINES l WHERE l.ORD_ID = ORDERS.ORD_ID)")
    assert facts.writes == {"ORDERS": {"ORD_TOT"}}
    assert "ORD_LINES" in facts.reads and "QTY" in facts.reads["ORD_LINES"]


def test_insert_select_and_delete():
    ins = analyse("INSERT INTO ARCHIVE (ID, V) SELECT ID, V FROM LIVE WHERE V > ?")
    assert ins.writes == {"ARCHIVE": {"ID", "V"}} and ins.reads == {"LIVE": {"ID", "V"}}
    dele = analyse("DELETE FROM STOCK_RSV WHERE RSV_ID IN (SELECT RSV_ID FROM OLD_RSV)")
    assert dele.writes == {"STOCK_RSV": set()} and set(dele.reads) == {"OLD_RSV"}


def test_merge_target_is_written_source_is_read():
    facts = analyse("MERGE INTO T USING S ON T.ID = S.ID WHEN MATCHED THEN UPDATE SET T.V = S.V "
                    "WHEN NOT MATCHED THEN INSERT (ID, V) VALUES (S.ID, S.V)")
    assert facts.kind == "merge"
    assert set(facts.writes) == {"T"} and "S" in facts.reads and "T" not in facts.reads


def test_upsert_reading_existing_row():
    facts = analyse("INSERT INTO T (K, N) VALUES (?, ?) ON CONFLICT (K) DO UPDATE SET N = T.N + excluded.N")
    assert facts.writes["T"] >= {"K", "N"} and facts.reads == {"T": {"N"}}


def test_ddl_is_a_write_and_system_tables_are_ignored():
    assert analyse("CREATE TABLE X (A INT)").writes == {"X": set()}
    assert analyse("DROP TABLE Y").writes == {"Y": set()}
    assert analyse("CREATE INDEX IX ON Z (A)").writes == {"Z": set()}
    assert analyse("SELECT name FROM sqlite_master WHERE type = ?").reads == {}


def test_select_star_is_recorded():
    assert analyse("SELECT * FROM PRODUCTS WHERE PROD_ID = ?").reads == {"PRODUCTS": {"*", "PROD_ID"}}


def test_malformed_sql_is_an_error_not_an_exception():
    for bad in ("SELEC * FROM x", "SELECT (", "INSERT INTO t VALUES (", "SELECT * FROM t WHERE a = = ?", "DELETE",
                "))", "\x00"):
        facts = analyse(bad)
        assert facts.kind == "error" and facts.error, bad


def test_postgres_dialect():
    facts = analyse("SELECT a::int FROM s.t WHERE b ILIKE ? RETURNING a", "postgres")
    assert facts.error is not None or "t" in facts.reads  # RETURNING on a SELECT is invalid: must not crash
    ok = analyse("SELECT a::int FROM s.t WHERE b ILIKE ?", "postgres")
    assert ok.reads == {"t": {"a", "b"}}
