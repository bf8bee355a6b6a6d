"""Recorded traffic in the parity store (SQLite by default, PostgreSQL with the shared store): the tables
`recordings`, `record_cases`, `record_rules` and `record_meta` (proxy/parity/store.py's SCHEMA and
proxy/parity/pgstore.py's DDL create them), read and written through the store's own connections and SQL
dialect, so one setting moves parity counts and recordings together.

Bounded: after every batch a feature's kept recordings are cut, oldest first, to CUT_TO of its `record.max_mb`
when they exceed it (the slack spares a delete on every batch once the store is full), and the bytes kept
are counted with a running total recounted every RECOUNT_S (a SUM over the feature's recordings each batch
cost the writer ~40 ms at 200,000 recordings; a total grown by other writers of a shared store or shrunk by
`strangler record prune` is right again at the next recount or cut). The case
counts (`record_cases`: one row per signature, proxy/record/shape.py) are added at record time and never
pruned, so weights describe all the traffic recorded, not only what is still kept. `record_rules` counts,
per configured redaction rule, how many recordings it was checked against and how many it matched.
"""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from proxy.common.clock import stamp
from proxy.parity.store import ParityStore

CUT_TO = 0.9
RECOUNT_S = 10.0
RECORDING_COLUMNS = ("feature", "route", "signature", "ts", "method", "path", "status", "latency_ms", "truncated",
                     "size", "request", "response")


@dataclass(frozen=True, slots=True)
class Case:
    feature: str
    signature: str
    method: str
    route: str
    query_keys: list[str]
    body_shape: str
    count: int
    weight: float            # count / all the feature's recorded requests
    representative: int | None  # the newest kept recording of this case (None: all pruned)
    kept: int
    first_seen: float
    last_seen: float

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "signature": self.signature, "method": self.method, "route": self.route,
                "query_keys": self.query_keys, "body_shape": self.body_shape, "count": self.count,
                "weight": self.weight, "representative": self.representative, "kept": self.kept,
                "first_seen": stamp(self.first_seen), "last_seen": stamp(self.last_seen)}


@dataclass(frozen=True, slots=True)
class Recording:
    id: int
    feature: str
    route: str
    signature: str
    ts: float
    method: str
    path: str
    status: int
    latency_ms: float | None
    truncated: bool
    size: int
    request: dict[str, Any]    # headers (redacted), body, body_encoding (utf-8|base64), body_truncated, body_size
    response: dict[str, Any]   # status, headers (redacted), body, body_encoding, body_truncated, body_size

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "feature": self.feature, "route": self.route, "signature": self.signature,
                "ts": stamp(self.ts), "method": self.method, "path": self.path, "status": self.status,
                "latency_ms": self.latency_ms, "truncated": self.truncated, "size": self.size,
                "request": self.request, "response": self.response}


class RecordingStore:
    """Recordings over an open ParityStore (its connections, dialect and write lock)."""

    def __init__(self, store: ParityStore):
        self.store = store
        self._kept: dict[str, tuple[int, float]] = {}  # feature -> (bytes kept, when counted): see the docstring

    def _q(self, sql: str) -> str:
        return self.store._sql(sql)

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        return self.store._rows(sql, args)

    # ------------------------------------------------------------------------------------------ writing
    def salt(self) -> bytes:
        """The recording's redaction salt (created once per store): placeholders are stable within it."""
        rows = self._rows("SELECT value FROM {p}record_meta WHERE name = 'salt'")
        if not rows:
            with self.store._write_lock, self.store._transaction() as cur:
                cur.execute(self._q("INSERT INTO {p}record_meta VALUES ('salt', ?) ON CONFLICT (name) DO NOTHING"),
                            (secrets.token_hex(16),))
            rows = self._rows("SELECT value FROM {p}record_meta WHERE name = 'salt'")
        return bytes.fromhex(rows[0]["value"])

    def write(self, rows: list[tuple[Any, ...]], cases: dict[tuple[str, str], list[Any]],
              rules: dict[tuple[str, str], list[int]], max_bytes: dict[str, int]) -> int:
        """One transaction: the recordings (RECORDING_COLUMNS), the case counts, the rule counts; then each
        feature cut to its max_bytes. Returns how many recordings were pruned."""
        q = self._q
        pruned = 0
        kept, self._kept = self._kept, {}  # restored when the transaction commits
        added: dict[str, int] = {}
        for row in rows:
            added[row[0]] = added.get(row[0], 0) + row[9]  # feature, size (RECORDING_COLUMNS)
        with self.store._write_lock, self.store._transaction() as cur:
            if rows:
                cur.executemany(q("INSERT INTO {p}recordings (" + ", ".join(RECORDING_COLUMNS) + ") VALUES (" +
                                  ", ".join("?" * len(RECORDING_COLUMNS)) + ")"), rows)
            cur.executemany(q("INSERT INTO {p}record_cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feature, "
                              "signature) DO UPDATE SET count = {p}record_cases.count + excluded.count, first_seen = "
                              "{least}({p}record_cases.first_seen, excluded.first_seen), last_seen = "
                              "{greatest}({p}record_cases.last_seen, excluded.last_seen)"),
                            [(*key, *value) for key, value in sorted(cases.items())])
            cur.executemany(q("INSERT INTO {p}record_rules VALUES (?, ?, ?, ?) ON CONFLICT (feature, rule) DO UPDATE "
                              "SET matched = {p}record_rules.matched + excluded.matched, checked = "
                              "{p}record_rules.checked + excluded.checked"),
                            [(*key, *value) for key, value in sorted(rules.items())])
            for feature in sorted(max_bytes):
                deleted, kept[feature] = self._cut(cur, feature, max_bytes[feature], kept.get(feature),
                                                   added.get(feature, 0))
                pruned += deleted
        self._kept = kept
        return pruned

    def _cut(self, cur: Any, feature: str, max_bytes: int, counted: tuple[int, float] | None,
             added: int) -> tuple[int, tuple[int, float]]:
        """Delete the feature's oldest recordings beyond CUT_TO x max_bytes when they exceed max_bytes (newest
        kept first); returns (recordings deleted, (bytes kept, when counted))."""
        now = time.monotonic()
        if counted is not None and now - counted[1] < RECOUNT_S:
            total, since = counted[0] + added, counted[1]
        else:
            total, since = self._total(cur, feature), now
        if total <= max_bytes:
            return 0, (total, since)
        cur.execute(self._q("DELETE FROM {p}recordings WHERE feature = ? AND id <= (SELECT id FROM (SELECT id, "
                            "SUM(size) OVER (ORDER BY id DESC) AS kept FROM {p}recordings WHERE feature = ?) w "
                            "WHERE kept > ? ORDER BY id DESC LIMIT 1)"), (feature, feature, int(max_bytes * CUT_TO)))
        return int(cur.rowcount or 0), (self._total(cur, feature), now)

    def _total(self, cur: Any, feature: str) -> int:
        cur.execute(self._q("SELECT COALESCE(SUM(size), 0) FROM {p}recordings WHERE feature = ?"), (feature,))
        return int(cur.fetchone()[0])

    def prune(self, feature: str | None = None, *, keep: int = 0, cases: bool = False) -> int:
        """Delete recordings (all, or the feature's) but the newest `keep`; with `cases` the counts too."""
        where, args = ("WHERE feature = ?", (feature,)) if feature else ("", ())
        with self.store._write_lock, self.store._transaction() as cur:
            cur.execute(self._q("SELECT DISTINCT feature FROM {p}recordings " + where), args)
            features = [r[0] for r in cur.fetchall()]
            deleted = 0
            for name in features:
                cur.execute(self._q("DELETE FROM {p}recordings WHERE feature = ? AND id NOT IN (SELECT id FROM "
                                    "{p}recordings WHERE feature = ? ORDER BY id DESC LIMIT ?)"), (name, name, keep))
                deleted += int(cur.rowcount or 0)
            if cases:
                cur.execute(self._q("DELETE FROM {p}record_cases " + where), args)
                cur.execute(self._q("DELETE FROM {p}record_rules " + where), args)
        return deleted

    # ------------------------------------------------------------------------------------------ reading
    def status(self) -> list[dict[str, Any]]:
        """Per feature: recorded (all time), kept, bytes kept, truncated kept, cases, oldest/newest, rules."""
        kept = {r["feature"]: r for r in self._rows(
            "SELECT feature, COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes, SUM(truncated) AS truncated, MIN(ts) AS "
            "oldest, MAX(ts) AS newest FROM {p}recordings GROUP BY feature")}
        cases = {r["feature"]: r for r in self._rows(
            "SELECT feature, COUNT(*) AS cases, SUM(count) AS recorded, MAX(last_seen) AS last FROM {p}record_cases "
            "GROUP BY feature")}
        rules: dict[str, list[dict[str, Any]]] = {}
        for r in self._rows("SELECT * FROM {p}record_rules ORDER BY feature, rule"):
            rules.setdefault(r["feature"], []).append({"rule": r["rule"], "matched": r["matched"],
                                                       "checked": r["checked"]})
        out = []
        for name in sorted(set(kept) | set(cases)):
            k, c = kept.get(name), cases.get(name)
            out.append({"feature": name, "recorded": int(c["recorded"]) if c else 0, "cases": c["cases"] if c else 0,
                        "kept": k["n"] if k else 0, "bytes": int(k["bytes"]) if k else 0,
                        "truncated": int(k["truncated"] or 0) if k else 0,
                        "oldest": stamp(k["oldest"]) if k else None, "newest": stamp(k["newest"]) if k else None,
                        "rules": rules.get(name, [])})
        return out

    def cases(self, feature: str) -> list[Case]:
        rows = self._rows("SELECT c.*, (SELECT MAX(id) FROM {p}recordings r WHERE r.feature = c.feature AND "
                          "r.signature = c.signature) AS representative, (SELECT COUNT(*) FROM {p}recordings r "
                          "WHERE r.feature = c.feature AND r.signature = c.signature) AS kept FROM {p}record_cases c "
                          "WHERE c.feature = ? ORDER BY c.count DESC, c.route, c.method, c.signature", (feature,))
        total = sum(r["count"] for r in rows) or 1
        return [Case(r["feature"], r["signature"], r["method"], r["route"], json.loads(r["query_keys"]),
                     r["body_shape"], r["count"], r["count"] / total, r["representative"], r["kept"],
                     r["first_seen"], r["last_seen"]) for r in rows]

    def recordings(self, feature: str | None = None, *, limit: int = 50, after: int = 0,
                   signature: str | None = None) -> list[Recording]:
        where, args = "WHERE id > ?", list[Any]([after])
        if feature is not None:
            where, args = where + " AND feature = ?", [*args, feature]
        if signature is not None:
            where, args = where + " AND signature = ?", [*args, signature]
        return [_recording(r) for r in self._rows(f"SELECT * FROM {{p}}recordings {where} ORDER BY id LIMIT ?",
                                                  (*args, limit))]

    def recording(self, recording_id: int) -> Recording | None:
        rows = self._rows("SELECT * FROM {p}recordings WHERE id = ?", (recording_id,))
        return _recording(rows[0]) if rows else None

    def features(self) -> list[str]:
        return [r["feature"] for r in self._rows("SELECT DISTINCT feature FROM {p}record_cases ORDER BY feature")]


def _recording(r: Any) -> Recording:
    return Recording(r["id"], r["feature"], r["route"], r["signature"], r["ts"], r["method"], r["path"], r["status"],
                     r["latency_ms"], bool(r["truncated"]), r["size"], json.loads(r["request"]),
                     json.loads(r["response"]))
