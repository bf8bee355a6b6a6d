"""Shapes: literals and parameters become ?, IN-lists and VALUES rows shrink, names keep their digits."""
import pytest

from strangler.footprint.normalise import is_control, normalise, split_statements


@pytest.mark.parametrize(("sql", "shape"), [
    ("SELECT a FROM t WHERE id = 42 AND name = 'Bob'", "SELECT a FROM t WHERE id = ? AND name = ?"),
    ("SELECT a FROM t WHERE id = -4.5e3", "SELECT a FROM t WHERE id = -?"),
    ("SELECT T1.c2 FROM T1 WHERE x_3 = 7", "SELECT T1.c2 FROM T1 WHERE x_3 = ?"),
    ("SELECT a FROM t WHERE id IN (1, 2,3)", "SELECT a FROM t WHERE id IN (?)"),
    ("select a from t where s not in ('x','y')", "select a from t where s not in (?)"),
    ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')", "INSERT INTO t (a, b) VALUES (?, ?)"),
    ("SELECT POWER(2, 3) FROM t", "SELECT POWER(?, ?) FROM t"),
    ("SELECT a FROM t WHERE x = :x AND y = $1 AND z = %(z)s AND w = %s AND v::int = ?",
     "SELECT a FROM t WHERE x = ? AND y = ? AND z = ? AND w = ? AND v::int = ?"),
    ("SELECT 'it''s' , E'x'\n  FROM   t -- trailing\n;", "SELECT ?, ? FROM t"),
    ('SELECT "COL1" FROM "T2" /* note */ WHERE "COL1" = 5', 'SELECT "COL1" FROM "T2" WHERE "COL1" = ?'),
])
def test_normalise(sql, shape):
    assert normalise(sql) == shape
    assert normalise(shape) == shape  # idempotent


def test_same_shape_for_different_literals():
    assert normalise("UPDATE s SET q = q + 3 WHERE id = 9") == normalise("UPDATE s SET q = q + 12 WHERE id = 1")


def test_split_statements_respects_quotes_and_comments():
    script = "SELECT ';' FROM a; -- a comment; with semicolon\nUPDATE b SET c = 'x;y';\n/* ; */ DELETE FROM d;;"
    assert split_statements(script) == ["SELECT ';' FROM a", "-- a comment; with semicolon\nUPDATE b SET c = 'x;y'",
                                        "/* ; */ DELETE FROM d"]


@pytest.mark.parametrize("sql", ["BEGIN", "COMMIT", "rollback", "SAVEPOINT sa_1", "PRAGMA foreign_keys=ON",
                                 "SET x = ?"])
def test_control_statements(sql):
    assert is_control(normalise(sql))


def test_queries_are_not_control():
    assert not is_control("SELECT 1")
    assert not is_control("(SELECT a FROM t) UNION (SELECT a FROM u)")
