"""Statements from PostgreSQL server logs written with `log_statement = all` (or log_min_duration_statement).

Plain stderr format: a record starts with `<log_line_prefix>SEVERITY:  message`; PostgreSQL indents the
continuation lines of a multi-line message with a tab. Extended-protocol statements appear as
`execute <name>: ...` followed by a `DETAIL:  parameters: $1 = ...` record, which we skip (shapes use
placeholders anyway); `parse`/`bind` lines and `STATEMENT:` echoes after errors are skipped so each
execution counts once. csvlog: the csv module handles quoted multi-line messages; application_name, when set,
becomes the module.
"""
from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

from strangler.footprint.readers import Capture

_RECORD = re.compile(r"^(?P<prefix>.*?)\b(?P<sev>LOG|ERROR|WARNING|FATAL|PANIC|DETAIL|HINT|STATEMENT|CONTEXT|"
                     r"NOTICE|INFO|DEBUG[1-5]?|QUERY|LOCATION):  (?P<msg>.*)$")
_MESSAGE = re.compile(r"^(?:duration: [\d.]+ ms\s+)?(?:statement|execute [^:]*?): ", re.DOTALL)

# csvlog column positions (stable since PostgreSQL 9.0; later versions only append columns)
_CSV_SEVERITY, _CSV_MESSAGE, _CSV_APPLICATION = 11, 13, 22


def statement_from_message(message: str) -> str | None:
    """The SQL of a `statement:` / `execute <name>:` log message (with or without a duration), else None."""
    match = _MESSAGE.match(message)
    if match is None:
        return None
    sql = message[match.end():].strip()
    return sql or None


def read_stderr_log(path: Path, capture: Capture) -> None:
    severity: str | None = None
    lines: list[str] = []

    def flush() -> None:
        if severity == "LOG" and lines:
            sql = statement_from_message("\n".join(lines))
            if sql is not None:
                capture.add(sql)

    with path.open(errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            if line.startswith("\t") or not line:
                if severity is not None:
                    lines.append(line.removeprefix("\t"))
                continue
            match = _RECORD.match(line)
            if match is None:
                if severity is not None:  # a continuation whose tab was lost by a log shipper
                    lines.append(line)
                continue
            flush()
            severity, lines = match["sev"], [match["msg"]]
    flush()


def read_csvlog(path: Path, capture: Capture) -> None:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(newline="", errors="replace") as f:
        for row in csv.reader(f):
            if len(row) <= _CSV_MESSAGE:
                if row:
                    capture.bad(f"not a csvlog row: {','.join(row)[:120]}")
                continue
            if row[_CSV_SEVERITY] != "LOG":
                continue
            sql = statement_from_message(row[_CSV_MESSAGE])
            if sql is None:
                continue
            application = row[_CSV_APPLICATION].strip() if len(row) > _CSV_APPLICATION else ""
            capture.add(sql, application or None)
