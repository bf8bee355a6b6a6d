"""Turn a concrete SQL statement into its shape: literals and parameters become `?`, whitespace collapses,
IN-lists and multi-row VALUES shrink to one element, comments go.

Why: a captured workload has millions of statements but only hundreds of shapes. Parsing is ~6,000/s, so
the analysis parses each shape once. The passes below use fixed replacement strings (C speed), no callbacks.
Shapes are also what reports show: no customer data leaks into a report.
"""
from __future__ import annotations

import re

_STRING = re.compile(r"[EeNnXxBb]?'(?:[^']|'')*'")
_STRING_PREFIX = re.compile(r"[EeNnXxBb](?<![\w'][EeNnXxBb])'")  # E'..', N'..', X'..' but not "blue'"
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
# Each pattern starts with a literal or a character class so the regex engine can skip ahead fast; the
# context checks (not inside a name, preceded by IN) come after the first character as look-behinds.
_NUMBER = re.compile(r"[0-9](?<![\w$.\"][0-9])[0-9]*(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?(?![\w\"])")
_DOLLAR = re.compile(r"\$[0-9]+")
_PERCENT = re.compile(r"%\([A-Za-z_0-9]+\)s|%s")
_COLON = re.compile(r":(?<![:\w]:)[A-Za-z_0-9]+")
_IN_LIST = re.compile(r"\((?:(?<=[Ii][Nn] \()|(?<=[Ii][Nn]\())\?(?:, ?\?)+\)")
_ROWS = re.compile(r"(\bVALUES ?\(\?(?:, ?\?)*\))(?:, ?\(\?(?:, ?\?)*\))+", re.IGNORECASE)
_SPACE_BEFORE = re.compile(r" ([,)])")
_SPACE_AFTER = re.compile(r"\( ")

#: Statements that control the session or transaction: counted, never parsed.
CONTROL_WORDS = frozenset({
    "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "START", "END", "SET", "SHOW", "RESET", "PRAGMA",
    "DEALLOCATE", "DISCARD", "LISTEN", "UNLISTEN", "NOTIFY", "VACUUM", "ANALYZE", "EXPLAIN", "CHECKPOINT",
    "PREPARE", "LOCK", "FETCH", "CLOSE", "DECLARE", "MOVE",
})


def normalise(sql: str) -> str:
    """The statement's shape (see module docstring). Idempotent: normalise(normalise(x)) == normalise(x)."""
    if "'" in sql:
        parts = sql.split("'")
        if len(parts) % 2 and "''" not in sql and not _STRING_PREFIX.search(sql):
            sql = "?".join(parts[::2])  # balanced quotes, no escapes or prefixes: C-speed split/join
        else:
            sql = _STRING.sub("?", sql)
    if "--" in sql or "/*" in sql:
        sql = _COMMENT.sub(" ", sql)
    sql = _NUMBER.sub("?", sql)
    if "$" in sql:
        sql = _DOLLAR.sub("?", sql)
    if "%" in sql:
        sql = _PERCENT.sub("?", sql)
    if ":" in sql:
        sql = _COLON.sub("?", sql)
    if "  " in sql or "\n" in sql or "\t" in sql or "\r" in sql or sql[:1] == " " or sql[-1:] == " ":
        sql = " ".join(sql.split())
    if "( " in sql or " ," in sql or " )" in sql:
        sql = _SPACE_AFTER.sub("(", _SPACE_BEFORE.sub(r"\1", sql))
    if "(?," in sql:
        if "), (" in sql or "),(" in sql:
            sql = _ROWS.sub(r"\1", sql)
        sql = _IN_LIST.sub("(?)", sql)
    return sql.rstrip(";").rstrip()


def first_word(shape: str) -> str:
    """Upper-cased leading keyword of a shape ('' when empty)."""
    head = shape.lstrip("( ")[:12].split(" ", 1)[0]
    return head.upper()


def is_control(shape: str) -> bool:
    """True for transaction/session statements (BEGIN, COMMIT, SET, PRAGMA, ...), which touch no table."""
    return first_word(shape) in CONTROL_WORDS


def split_statements(text: str) -> list[str]:
    """Split a script on top-level `;`, respecting quotes and comments. Empty statements are dropped."""
    out: list[str] = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            end = text.find(ch, i + 1)
            while end != -1 and end + 1 < n and text[end + 1] == ch:  # doubled quote escape
                end = text.find(ch, end + 2)
            i = n if end == -1 else end + 1
            continue
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end + 1
            continue
        if ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
            continue
        if ch == ";":
            out.append(text[start:i])
            start = i + 1
        i += 1
    out.append(text[start:])
    return [part.strip() for part in out if _has_code(part)]


def _has_code(part: str) -> bool:
    stripped = _COMMENT.sub(" ", part).strip()
    return bool(stripped)
