"""Read captured SQL into counts per (module, endpoint, method, shape).

Sources: our own JSONL capture (or any JSONL with a "sql" key), a plain .sql script with optional
`-- module: X` tags, and PostgreSQL logs (see `pglog`). Statements are normalised on the way in so the
analysis parses each shape once; big JSONL files are read by several processes, each returning counts.
"""
from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from strangler.footprint.normalise import normalise, split_statements

Key = tuple[str | None, str | None, str | None, str]  # module, endpoint, method, shape

FORMATS = ("auto", "jsonl", "sql", "pglog", "pgcsv")
_PARALLEL_MIN_BYTES = 32 * 1024 * 1024
_CACHE_LIMIT = 300_000
_CACHE_PROBE = 50_000
_TAG = re.compile(r"--\s*module\s*:\s*([\w.\-]+)", re.IGNORECASE)
_COMMENT_MODULE = re.compile(r"/\*.*?\b(?:module|controller)\s*[=:]\s*'?([\w.\-%]+)'?.*?\*/", re.DOTALL)
_COMMENT_ROUTE = re.compile(r"/\*.*?\b(?:endpoint|route)\s*[=:]\s*'?([\w.\-%/]+)'?.*?\*/", re.DOTALL)


class SourceError(ValueError):
    """A source that cannot be read at all (missing, unknown format); bad lines inside are only counted."""


@dataclass
class Capture:
    """Statement counts by key, plus what could not be read."""

    counts: dict[Key, int] = field(default_factory=dict)
    total: int = 0
    bad_records: int = 0
    bad_examples: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    _shapes: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def add(self, sql: str, module: str | None = None, endpoint: str | None = None, method: str | None = None,
            n: int = 1) -> None:
        if module is None and "/*" in sql:
            module, endpoint = _comment_tags(sql, endpoint)
        for shape in self.shapes(sql):
            key = (module, endpoint, method, shape)
            self.counts[key] = self.counts.get(key, 0) + n
            self.total += n

    def shapes(self, sql: str) -> tuple[str, ...]:
        cached = self._shapes.get(sql)
        if cached is None:
            shape = normalise(sql)
            cached = tuple(split_statements(shape)) if ";" in shape else ((shape,) if shape else ())
            if len(self._shapes) >= _CACHE_LIMIT:
                self._shapes.clear()
            self._shapes[sql] = cached
        return cached

    def bad(self, why: str) -> None:
        self.bad_records += 1
        if len(self.bad_examples) < 20:
            self.bad_examples.append(why[:300])

    def merge(self, other: Capture) -> None:
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.total += other.total
        self.bad_records += other.bad_records
        self.bad_examples.extend(other.bad_examples[: max(0, 20 - len(self.bad_examples))])
        self.sources.extend(other.sources)


def _comment_tags(sql: str, endpoint: str | None) -> tuple[str | None, str | None]:
    """Module/route from an SQL comment (`/* module: x */`, sqlcommenter `controller='x',route='/y'`)."""
    found = _COMMENT_MODULE.search(sql)
    route = _COMMENT_ROUTE.search(sql) if endpoint is None else None
    return (found.group(1) if found else None), (route.group(1) if route else endpoint)


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".sql"):
        return "sql"
    if name.endswith(".csv"):
        return "pgcsv"
    return "pglog"


def read_sources(paths: list[Path], fmt: str = "auto", workers: int | None = None) -> Capture:
    """Read every source into one Capture. `workers` caps processes for big JSONL files (None = CPU count)."""
    from strangler.footprint import pglog

    if fmt not in FORMATS:
        raise SourceError(f"unknown source format {fmt!r}. Fix: use one of {', '.join(FORMATS)}")
    capture = Capture()
    for path in paths:
        if not path.is_file():
            raise SourceError(f"{path}: no such file. Fix: pass a capture (.jsonl), a PostgreSQL log (.log/.csv) "
                              "or a .sql file; capture one with `strangler analyze capture -- COMMAND`")
        kind = detect_format(path) if fmt == "auto" else fmt
        if kind == "jsonl":
            capture.merge(read_jsonl(path, workers=workers))
        elif kind == "sql":
            read_sql_file(path, capture)
        elif kind == "pgcsv":
            pglog.read_csvlog(path, capture)
        else:
            pglog.read_stderr_log(path, capture)
        capture.sources.append(str(path))
    capture.sources = list(dict.fromkeys(capture.sources))
    return capture


def read_sql_file(path: Path, capture: Capture) -> None:
    """A script of `;`-separated statements; a `-- module: X` comment tags the statements after it."""
    module: str | None = None
    for statement in split_statements(path.read_text(errors="replace")):
        tags = _TAG.findall(statement)
        if tags:
            module = tags[-1]
        capture.add(statement, module)


def read_jsonl(path: Path, workers: int | None = None) -> Capture:
    """JSON lines with "sql" (or "statement"/"query") and optional module/endpoint/method keys."""
    size = path.stat().st_size
    workers = max(1, min(workers or os.cpu_count() or 1, 8))
    if size < _PARALLEL_MIN_BYTES or workers == 1:
        return _read_jsonl_range(str(path), 0, size)
    bounds = _line_bounds(path, size, workers)
    ranges = list(itertools.pairwise(bounds))
    import multiprocessing

    context = multiprocessing.get_context("fork") if os.name == "posix" else None
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
        parts = list(pool.map(_read_jsonl_range, [str(path)] * len(ranges), *zip(*ranges, strict=True)))
    total = Capture()
    for part in parts:
        total.merge(part)
    return total


def _line_bounds(path: Path, size: int, parts: int) -> list[int]:
    bounds = [0]
    with path.open("rb") as f:
        for i in range(1, parts):
            f.seek(size * i // parts)
            f.readline()
            bounds.append(max(f.tell(), bounds[-1]))
    bounds.append(size)
    return sorted(set(bounds))


def _iter_lines(path: str, start: int, end: int, block: int = 4 << 20) -> Iterator[str]:
    """Lines of a byte range, decoded a block at a time (cheaper than per line)."""
    with open(path, "rb") as f:
        f.seek(start)
        remaining = end - start
        tail = b""
        while remaining > 0:
            data = f.read(min(block, remaining))
            if not data:
                break
            remaining -= len(data)
            data = tail + data
            cut = data.rfind(b"\n")
            if cut < 0:
                tail = data
                continue
            tail = data[cut + 1:]
            yield from data[:cut].decode("utf-8", "replace").split("\n")
        if tail:
            yield tail.decode("utf-8", "replace")


def _read_jsonl_range(path: str, start: int, end: int) -> Capture:
    """The hot loop: a line seen before costs one dict lookup; a new line one json.loads + normalise.
    When lines almost never repeat (inline literals), the line cache is dropped after a probe: it would
    only cost hashing and memory."""
    capture = Capture()
    counts = capture.counts
    seen: dict[str, tuple[Key, ...]] | None = {}
    loads = json.loads
    total = hits = misses = 0
    for line in _iter_lines(path, start, end):
        keys = seen.get(line) if seen is not None else None
        if keys is None:
            keys = _keys_for_line(line, capture, loads)
            if keys is None:
                continue
            if seen is not None:
                misses += 1
                if misses == _CACHE_PROBE and hits * 10 < misses:
                    seen = None
                else:
                    if len(seen) >= _CACHE_LIMIT:
                        seen.clear()
                    seen[line] = keys
        else:
            hits += 1
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        total += len(keys)
    capture.total = total
    return capture


def _keys_for_line(line: str, capture: Capture, loads) -> tuple[Key, ...] | None:
    if not line.strip():
        return None
    try:
        record = loads(line)
    except ValueError:
        capture.bad(f"not JSON: {line[:120]!r}")
        return None
    if not isinstance(record, dict):
        capture.bad(f"not a JSON object: {line[:120]!r}")
        return None
    sql = record.get("sql")
    if sql is None:
        sql = record.get("statement") or record.get("query")
    if not isinstance(sql, str):
        from strangler.footprint.pglog import statement_from_message

        message = record.get("message")  # PostgreSQL jsonlog
        sql = statement_from_message(message) if isinstance(message, str) else None
        if sql is None:
            if not isinstance(message, str):
                capture.bad(f"no 'sql' key: {line[:120]!r}")
            return None
    module = record.get("module")
    if not module:
        module = record.get("blueprint") or record.get("application_name") or None
    endpoint = record.get("endpoint") or None
    method = record.get("method") or None
    if module is None and "/*" in sql:
        module, endpoint = _comment_tags(sql, endpoint)
    shape = normalise(sql)  # the caller caches per line, so no second cache here
    if ";" in shape:
        return tuple((module, endpoint, method, part) for part in split_statements(shape))
    return ((module, endpoint, method, shape),) if shape else ()
