"""Readers: JSONL capture, .sql scripts with module tags, PostgreSQL stderr logs and csvlog (hand-written)."""
import csv
import json

import pytest

from strangler.footprint import readers
from strangler.footprint.readers import SourceError, read_sources

PG_STDERR = """\
2024-05-02 10:00:00.101 UTC [4242] LOG:  database system is ready to accept connections
2024-05-02 10:00:01.200 UTC [4250] LOG:  statement: SELECT p.PROD_ID,
\t       p.UNIT_PRC
\t  FROM PRODUCTS p
\t WHERE p.PROD_ID = 17
2024-05-02 10:00:01.300 UTC [4250] LOG:  execute <unnamed>: UPDATE STOCK
\t   SET QTY_RSRVD = QTY_RSRVD + $1
\t WHERE PROD_ID = $2 AND WH_CD = $3
2024-05-02 10:00:01.300 UTC [4250] DETAIL:  parameters: $1 = '2', $2 = '17', $3 = 'LON1'
2024-05-02 10:00:01.400 UTC [4250] LOG:  execute S_1: SELECT p.PROD_ID, p.UNIT_PRC FROM PRODUCTS p WHERE p.PROD_ID = $1
2024-05-02 10:00:01.400 UTC [4250] DETAIL:  parameters: $1 = '18'
2024-05-02 10:00:01.500 UTC [4251] LOG:  statement: BEGIN; INSERT INTO ORDERS (CUST_ID, ORD_STS) VALUES (3, 'N'); COMMIT
2024-05-02 10:00:01.600 UTC [4251] LOG:  duration: 0.120 ms  statement: SELECT COUNT(*) FROM ORDERS WHERE CUST_ID = 3
2024-05-02 10:00:01.650 UTC [4251] LOG:  duration: 0.050 ms  parse <unnamed>: SELECT 1 FROM WAREHOUSES
2024-05-02 10:00:01.700 UTC [4251] LOG:  statement: SELEC oops
2024-05-02 10:00:01.700 UTC [4251] ERROR:  syntax error at or near "SELEC" at character 1
2024-05-02 10:00:01.700 UTC [4251] STATEMENT:  SELEC oops
2024-05-02 10:00:02.000 UTC [4242] LOG:  checkpoint starting: time
"""


def _shapes(capture):
    out = {}
    for (module, _endpoint, _method, shape), n in capture.counts.items():
        out[(module, shape)] = out.get((module, shape), 0) + n
    return out


def test_pg_stderr_log_multiline_execute_and_echoes(tmp_path):
    path = tmp_path / "postgresql.log"
    path.write_text(PG_STDERR)
    shapes = _shapes(read_sources([path]))
    assert shapes == {
        (None, "SELECT p.PROD_ID, p.UNIT_PRC FROM PRODUCTS p WHERE p.PROD_ID = ?"): 2,  # statement + execute S_1
        (None, "UPDATE STOCK SET QTY_RSRVD = QTY_RSRVD + ? WHERE PROD_ID = ? AND WH_CD = ?"): 1,
        (None, "BEGIN"): 1, (None, "INSERT INTO ORDERS (CUST_ID, ORD_STS) VALUES (?, ?)"): 1, (None, "COMMIT"): 1,
        (None, "SELECT COUNT(*) FROM ORDERS WHERE CUST_ID = ?"): 1,
        (None, "SELEC oops"): 1,  # logged once by log_statement; the STATEMENT echo after the error is skipped
    }


def test_pg_csvlog_multiline_and_application_name(tmp_path):
    path = tmp_path / "postgresql.csv"
    rows = [
        ["2024-05-02 10:00:01.200 UTC", "app", "shop", "4250", "127.0.0.1:5000", "6633a.1", "1", "SELECT",
         "2024-05-02 10:00:00 UTC", "3/1", "0", "LOG", "00000",
         "statement: SELECT SUM(QTY_ON_HND - QTY_RSRVD)\n  FROM STOCK\n WHERE PROD_ID = 5", "", "", "", "", "", "",
         "", "", "catalog", "client backend", "", "0"],
        ["2024-05-02 10:00:01.300 UTC", "app", "shop", "4250", "127.0.0.1:5000", "6633a.1", "2", "UPDATE",
         "2024-05-02 10:00:00 UTC", "3/2", "0", "LOG", "00000",
         "execute <unnamed>: UPDATE PRODUCTS SET PROD_NM = $1 WHERE PROD_ID = $2", "parameters: $1 = 'x', $2 = '5'",
         "", "", "", "", "", "", "", "", "client backend", "", "0"],
        ["2024-05-02 10:00:01.400 UTC", "", "", "4242", "", "6633a.0", "3", "", "", "", "0", "LOG", "00000",
         "checkpoint starting: time", "", "", "", "", "", "", "", "", "", "checkpointer", "", "0"],
    ]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    shapes = _shapes(read_sources([path]))
    assert shapes == {("catalog", "SELECT SUM(QTY_ON_HND - QTY_RSRVD) FROM STOCK WHERE PROD_ID = ?"): 1,
                      (None, "UPDATE PRODUCTS SET PROD_NM = ? WHERE PROD_ID = ?"): 1}


def test_jsonl_counts_and_bad_lines(tmp_path):
    path = tmp_path / "capture.jsonl"
    lines = [json.dumps({"sql": f"SELECT a FROM t WHERE id = {i}", "module": "m", "endpoint": "m.get",
                         "method": "GET"}) for i in range(5)]
    lines += ["not json", json.dumps({"nosql": 1}), "", json.dumps({"sql": "DELETE FROM t WHERE id = 1"}),
              json.dumps({"message": "statement: SELECT b FROM u", "application_name": "x"})]  # PG jsonlog
    path.write_text("\n".join(lines) + "\n")
    capture = read_sources([path])
    assert capture.counts == {("m", "m.get", "GET", "SELECT a FROM t WHERE id = ?"): 5,
                              (None, None, None, "DELETE FROM t WHERE id = ?"): 1,
                              ("x", None, None, "SELECT b FROM u"): 1}
    assert capture.total == 7 and capture.bad_records == 2


def test_parallel_jsonl_read_equals_sequential(tmp_path, monkeypatch):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"sql": f"SELECT c{i % 7} FROM t{i % 3} WHERE x = {i}", "module": f"m{i % 2}"})
                            + "\n" for i in range(3000)))
    sequential = readers.read_jsonl(path, workers=1)
    monkeypatch.setattr(readers, "_PARALLEL_MIN_BYTES", 0)
    parallel = readers.read_jsonl(path, workers=3)
    assert parallel.counts == sequential.counts and parallel.total == sequential.total == 3000


def test_sql_file_with_module_tags(tmp_path):
    path = tmp_path / "queries.sql"
    path.write_text("SELECT 1 FROM a;\n-- module: billing\nSELECT x FROM inv WHERE y = 'a;b';\n"
                    "UPDATE inv SET x = 2;\n-- module: shipping\nDELETE FROM parcel WHERE id = 4;\n")
    shapes = _shapes(read_sources([path]))
    assert shapes == {(None, "SELECT ? FROM a"): 1, ("billing", "SELECT x FROM inv WHERE y = ?"): 1,
                      ("billing", "UPDATE inv SET x = ?"): 1, ("shipping", "DELETE FROM parcel WHERE id = ?"): 1}


def test_sqlcommenter_comment_names_the_module(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"sql": "SELECT a FROM t /*controller='billing',route='/api/inv'*/"}) + "\n")
    assert read_sources([path]).counts == {("billing", "/api/inv", None, "SELECT a FROM t"): 1}


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        read_sources([tmp_path / "nope.jsonl"])


def test_line_cache_is_dropped_when_lines_never_repeat(tmp_path, monkeypatch):
    path = tmp_path / "unique.jsonl"
    path.write_text("".join(json.dumps({"sql": f"SELECT a FROM t WHERE x = {i}", "module": "m"}) + "\n"
                            for i in range(200)) + json.dumps({"sql": "SELECT a FROM t WHERE x = 1", "module": "m"}))
    monkeypatch.setattr(readers, "_CACHE_PROBE", 20)
    capture = readers.read_jsonl(path, workers=1)
    assert capture.counts == {("m", None, None, "SELECT a FROM t WHERE x = ?"): 201}
