"""Verify a migrated table: both sides streamed in key order, each row brought to its CANONICAL DOMAIN form
(legacy row → domain through the ACL; service row → domain), compared key by key, with a checksum per side.

Why domain form: legacy and service schemas differ on purpose (names, money, time zones, enums), so raw
rows never compare; the domain object is the one meaning both must agree on. Streaming with a merge join
keeps memory flat whatever the table size; only the first N differing keys are kept.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from strangler.migrate.db import find_columns, has_table, keyset_columns, quarantine, reflect_table
from strangler.migrate.engine import display_key, reason_text
from strangler.migrate.mapping import Row, TableMapping, encode_key

STREAM_BATCH = 2000


def plain(value: Any) -> Any:
    """A value in a form that compares and hashes the same whichever database it came from."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f") if value == value else "NaN"
    if isinstance(value, bytes):
        return value.hex()
    return value


def canonical(value: Mapping[str, Any]) -> str:
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class TableVerification:
    source_table: str
    target_table: str
    source_rows: int = 0
    target_rows: int = 0
    matched: int = 0
    differing: int = 0
    missing: int = 0      # in the source, not quarantined, but not in the target
    extra: int = 0        # in the target but not in the source
    quarantined: int = 0  # source rows in _strangler_quarantine (as backfill and status count; not compared)
    source_checksum: str = ""
    target_checksum: str = ""
    samples: dict[str, list[Any]] = field(default_factory=lambda: {"differing": [], "missing": [], "extra": [],
                                                                    "quarantined": []})
    first_difference: dict[str, Any] | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)  # why rows are quarantined / do not translate

    @property
    def ok(self) -> bool:
        return not (self.differing or self.missing or self.extra)

    def note(self, kind: str, key: Any, limit: int, reason: str | None = None) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.samples[kind]) < limit:
            self.samples[kind].append(key)
        if reason and len(self.reasons) < limit:
            self.reasons.append({"key": key, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["ok"] = self.ok
        return data


def _stream(engine: Engine, query: Any) -> Iterator[Mapping[Any, Any]]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
        yield from result.mappings()


def _quarantined(target: Engine, table: str, feature: str | None) -> dict[str, str]:
    """Encoded key → reason of this table's rows in _strangler_quarantine (of `feature`, or any)."""
    if not has_table(target, quarantine.name):
        return {}
    condition = quarantine.c.table_name == table
    if feature is not None:
        condition = condition & (quarantine.c.feature == feature)
    with target.connect() as conn:
        return dict(conn.execute(select(quarantine.c.row_key, quarantine.c.reason).where(condition)).all())


def verify_table(mapping: TableMapping, source: Engine, target: Engine, *, limit: int = 20,
                 feature: str | None = None) -> TableVerification:
    """Compare every row of one mapping; see module doc. A source row in the quarantine counts as quarantined
    (never as missing), so backfill, verify and status agree; one that does not translate but was never
    quarantined (not backfilled yet) is missing, with its reason."""
    held = _quarantined(target, mapping.source_table, feature)
    source_table = reflect_table(source, mapping.source_table)
    source_keys = keyset_columns(source_table, mapping.source_keys)
    target_keys = find_columns(mapping.target, mapping.target_key)
    report = TableVerification(source_table=mapping.source_table, target_table=mapping.target.name)
    src_hash, tgt_hash = hashlib.sha256(), hashlib.sha256()

    def source_items() -> Iterator[tuple[tuple, str | None, str]]:
        for raw in _stream(source, select(source_table).order_by(*source_keys)):
            report.source_rows += 1
            key = tuple(raw[c.name] for c in source_keys)
            if held and encode_key(key) in held:
                yield key, None, held[encode_key(key)]
                continue
            try:
                row = Row(raw)
                form = mapping.source_domain(row) if mapping.source_domain else mapping.translate(row)
                yield key, canonical(form), ""
            except ValueError as exc:
                yield key, "", reason_text(exc)

    def target_items() -> Iterator[tuple[tuple, Mapping[str, Any]]]:
        for raw in _stream(target, select(mapping.target).order_by(*target_keys)):
            report.target_rows += 1
            yield tuple(raw[c.name] for c in target_keys), raw

    def target_form(raw: Mapping[str, Any], like: str | None) -> str:
        if mapping.target_domain:
            return canonical(mapping.target_domain(Row(raw)))
        columns = json.loads(like).keys() if like else raw.keys()
        return canonical({name: raw[name] for name in columns if name in raw})

    sources, targets = source_items(), target_items()
    s, t = next(sources, None), next(targets, None)
    while s is not None or t is not None:
        if s is not None and (t is None or s[0] < t[0]):  # (the loop runs while one of them is left)
            key, form, why = s
            if form is None:
                report.note("quarantined", display_key(key), limit, why)
            else:
                src_hash.update(f"{key}\t{form}\n".encode())
                report.note("missing", display_key(key), limit, why)
            s = next(sources, None)
        elif t is not None and (s is None or t[0] < s[0]):
            tgt_hash.update(f"{t[0]}\t{target_form(t[1], None)}\n".encode())
            report.note("extra", display_key(t[0]), limit)
            t = next(targets, None)
        else:
            assert s is not None and t is not None  # the same key on both sides
            key, form, why = s
            if form is None:
                report.note("quarantined", display_key(key), limit, why)
            elif not form:  # does not translate, yet a row is there (an older version of it)
                tgt_hash.update(f"{key}\t{target_form(t[1], None)}\n".encode())
                report.note("differing", display_key(key), limit, why)
            else:
                other = target_form(t[1], form)
                src_hash.update(f"{key}\t{form}\n".encode())
                tgt_hash.update(f"{key}\t{other}\n".encode())
                if other == form:
                    report.matched += 1
                else:
                    report.note("differing", display_key(key), limit)
                    if report.first_difference is None:
                        report.first_difference = {"key": display_key(key), "source": json.loads(form),
                                                   "target": json.loads(other)}
            s, t = next(sources, None), next(targets, None)
    report.source_checksum, report.target_checksum = src_hash.hexdigest(), tgt_hash.hexdigest()
    return report
