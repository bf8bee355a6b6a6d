"""Aggregate statement facts into the footprint: per module and endpoint, table ownership, coupling,
extraction order and per-feature views. The result is a plain dict (JSON-ready) so reports, the saved
analysis and the flip gate all read the same thing.

Ownership without config: a module whose name matches the table (strangler.footprint.naming), else the
module that writes it most, else the one that reads it most; every guess is listed under "guessed_owners".
Pseudo-modules — "(no request)" for statements outside any request (startup, jobs) and "(unknown)" for
sources without attribution — are reported but never own tables and never count as coupling.
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from proxy.common.clock import stamp
from strangler.footprint.config import FootprintConfig
from strangler.footprint.naming import owner_by_name
from strangler.footprint.normalise import is_control
from strangler.footprint.readers import Capture
from strangler.footprint.sqlfacts import Facts, analyse

UNKNOWN = "(unknown)"
NO_REQUEST = "(no request)"
EXAMPLES = 3


def is_pseudo(module: str) -> bool:
    return module.startswith("(")


def analyse_capture(capture: Capture, config: FootprintConfig | None = None) -> dict[str, Any]:
    """The whole footprint of a capture (see module docstring for the shape of the result)."""
    config = config or FootprintConfig()
    started = time.perf_counter()
    facts = _facts_by_shape(capture, config)
    parse_s = time.perf_counter() - started
    agg = _Aggregate(config)
    for (raw_module, endpoint, method, shape), n in sorted(capture.counts.items(), key=_key_sort):
        agg.add(_module_name(raw_module, config), endpoint, method, shape, n, facts[shape])
    result = agg.result(capture)
    result["stats"]["parse_seconds"] = round(parse_s, 3)
    return result


def _key_sort(item: tuple) -> tuple:
    return tuple("" if part is None else str(part) for part in item[0])


def _module_name(raw: str | None, config: FootprintConfig) -> str:
    if not raw:
        return UNKNOWN
    return config.module_aliases.get(raw, raw)


def _facts_by_shape(capture: Capture, config: FootprintConfig) -> dict[str, Facts]:
    ignored = {t.lower() for t in config.ignore_tables}
    out: dict[str, Facts] = {}
    for shape in {key[3] for key in capture.counts}:
        if is_control(shape):
            out[shape] = Facts(kind="control")
            continue
        facts = analyse(shape, config.dialect)
        if facts.error and config.dialect:
            generic = analyse(shape, None)  # vendor-neutral second chance before calling it unparseable
            facts = generic if not generic.error else facts
        if ignored:
            facts.reads = {t: c for t, c in facts.reads.items() if t.lower() not in ignored}
            facts.writes = {t: c for t, c in facts.writes.items() if t.lower() not in ignored}
        out[shape] = facts
    return out


class _Access:
    """Reads and writes of one module or endpoint: table -> counts, columns, example shapes."""

    def __init__(self) -> None:
        self.statements = 0
        self.reads: dict[str, Counter] = defaultdict(Counter)
        self.writes: dict[str, Counter] = defaultdict(Counter)
        self.read_cols: dict[str, set[str]] = defaultdict(set)
        self.write_cols: dict[str, set[str]] = defaultdict(set)

    def add(self, facts: Facts, shape: str, n: int, canon) -> None:
        self.statements += n
        for table, cols in facts.reads.items():
            name = canon(table)
            self.reads[name][shape] += n
            self.read_cols[name] |= cols
        for table, cols in facts.writes.items():
            name = canon(table)
            self.writes[name][shape] += n
            self.write_cols[name] |= cols

    def as_dict(self) -> dict[str, Any]:
        def side(counters: dict[str, Counter], cols: dict[str, set[str]]) -> dict[str, Any]:
            return {t: {"count": sum(c.values()), "columns": sorted(cols[t])} for t, c in sorted(counters.items())}

        return {"statements": self.statements, "reads": side(self.reads, self.read_cols),
                "writes": side(self.writes, self.write_cols)}


class _Aggregate:
    def __init__(self, config: FootprintConfig) -> None:
        self.config = config
        self.modules: dict[str, _Access] = defaultdict(_Access)
        self.endpoints: dict[tuple[str, str, str], _Access] = defaultdict(_Access)
        self.spellings: dict[str, str] = {}
        self.kinds: Counter = Counter()
        self.errors: dict[str, dict[str, Any]] = {}
        self.control = 0
        self.unparseable = 0

    def canon(self, table: str) -> str:
        key = table.lower()
        name = self.spellings.get(key)
        if name is None:
            name = self.config.spelling(table) or table
            self.spellings[key] = name
        return name

    def add(self, module: str, endpoint: str | None, method: str | None, shape: str, n: int, facts: Facts) -> None:
        self.kinds[facts.kind] += n
        if facts.kind == "control":
            self.control += n
            return
        if facts.error:
            self.unparseable += n
            entry = self.errors.setdefault(shape, {"sql": shape, "error": facts.error, "count": 0, "modules": []})
            entry["count"] += n
            if module not in entry["modules"]:
                entry["modules"].append(module)
            return
        self.modules[module].add(facts, shape, n, self.canon)
        if endpoint or method:
            self.endpoints[(module, method or "", endpoint or "")].add(facts, shape, n, self.canon)

    # -- ownership, coupling, order -------------------------------------------------------------------
    def ownership(self) -> dict[str, dict[str, Any]]:
        tables: dict[str, dict[str, Any]] = {}
        for module, access in self.modules.items():
            for table, shapes in access.writes.items():
                tables.setdefault(table, _table_entry())["writers"][module] = sum(shapes.values())
            for table, shapes in access.reads.items():
                tables.setdefault(table, _table_entry())["readers"][module] = sum(shapes.values())
        for declared in self.config.modules.values():
            for table in declared:
                tables.setdefault(self.canon(table), _table_entry())
        modules = sorted({m for m in self.modules if not is_pseudo(m)} | set(self.config.modules))
        for table, entry in tables.items():
            declared_owner = self.config.owner_of(table)
            if declared_owner:
                entry.update(owner=declared_owner, owner_source="config")
                continue
            named = owner_by_name(table, modules, entry["writers"])
            if named:
                entry.update(owner=named, owner_source="inferred from name")
                continue
            for basis, counts in (("writes", entry["writers"]), ("reads", entry["readers"])):
                real = {m: c for m, c in counts.items() if not is_pseudo(m)}
                if not real:
                    continue
                top = max(real.values())
                leaders = sorted(m for m, c in real.items() if c == top)
                entry.update(owner=leaders[0], owner_source=f"inferred from {basis}")
                if len(leaders) > 1:
                    entry["tie"] = leaders
                break
        return dict(sorted(tables.items()))

    def coupling(self, tables: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        edges = []
        for module, access in sorted(self.modules.items()):
            if is_pseudo(module):
                continue
            for table in sorted(set(access.reads) | set(access.writes)):
                owner = tables.get(table, {}).get("owner")
                if not owner or owner == module:
                    continue
                reads, writes = access.reads.get(table, Counter()), access.writes.get(table, Counter())
                examples = (writes + reads).most_common(EXAMPLES)
                edges.append({
                    "module": module, "table": table, "owner": owner,
                    "access": "read/write" if reads and writes else ("write" if writes else "read"),
                    "reads": sum(reads.values()), "writes": sum(writes.values()),
                    "columns": sorted(access.read_cols.get(table, set()) | access.write_cols.get(table, set())),
                    "endpoints": self._endpoints_touching(module, table),
                    "examples": [shape for shape, _ in examples],
                })
        return edges

    def _endpoints_touching(self, module: str, table: str) -> list[str]:
        return sorted(f"{method} {endpoint}".strip() for (m, method, endpoint), a in self.endpoints.items()
                      if m == module and (table in a.reads or table in a.writes))

    def order(self, tables: dict[str, dict[str, Any]], edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
        modules = {m for m in self.modules if not is_pseudo(m)} | set(self.config.modules)
        modules |= {e["owner"] for e in edges}
        rows = []
        for module in modules:
            inbound = [e for e in edges if e["owner"] == module]
            outbound = [e for e in edges if e["module"] == module]
            owned = sorted(t for t, entry in tables.items() if entry.get("owner") == module)
            rows.append({"module": module, "owns": owned, "inbound": len(inbound), "outbound": len(outbound),
                         "inbound_edges": [_edge_text(e, "in") for e in inbound],
                         "outbound_edges": [_edge_text(e, "out") for e in outbound]})
        rows.sort(key=lambda r: (r["inbound"], r["outbound"], r["module"]))
        for position, row in enumerate(rows, 1):
            row["position"] = position
            row["reason"] = _reason(row)
        return rows

    def result(self, capture: Capture) -> dict[str, Any]:
        tables = self.ownership()
        edges = self.coupling(tables)
        order = self.order(tables, edges)
        known = {m for m in self.modules if not is_pseudo(m)} | set(self.config.modules)
        features = {f: list(ms) for f, ms in self.config.features.items()}
        claimed = {m for ms in features.values() for m in ms}
        for module in sorted(known - claimed):
            features.setdefault(module, [module])
        errors = sorted(self.errors.values(), key=lambda e: (-e["count"], e["sql"]))
        distinct = len({k[3] for k in capture.counts})
        return {
            "version": 1,
            "generated_at": stamp(),
            "sources": capture.sources,
            "dialect": self.config.dialect,
            "stats": {"statements": capture.total, "distinct_shapes": distinct,
                      "analysed": capture.total - self.control - self.unparseable,
                      "control": self.control, "unparseable": self.unparseable,
                      "unparseable_shapes": len(errors), "bad_records": capture.bad_records,
                      "kinds": dict(sorted(self.kinds.items()))},
            "modules": {m: {**a.as_dict(), "pseudo": is_pseudo(m)} for m, a in sorted(self.modules.items())},
            "endpoints": [{"module": m, "method": meth, "endpoint": ep, **a.as_dict()}
                          for (m, meth, ep), a in sorted(self.endpoints.items())],
            "tables": tables,
            "ownership_ties": {t: e["tie"] for t, e in tables.items() if "tie" in e},
            "guessed_owners": _guessed(tables),
            "coupling": edges,
            "extraction_order": order,
            "features": features,
            "errors": errors[: self.config.max_errors],
            "bad_records": capture.bad_examples,
        }


def _guessed(tables: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """module -> tables whose owner was guessed (not in the config): the reports say how to pin them."""
    out: dict[str, list[str]] = {}
    for table, entry in tables.items():
        if entry["owner"] and entry["owner_source"] != "config":
            out.setdefault(entry["owner"], []).append(table)
    return dict(sorted(out.items()))


def _table_entry() -> dict[str, Any]:
    return {"owner": None, "owner_source": "unknown", "writers": {}, "readers": {}}


def _edge_text(edge: dict[str, Any], direction: str) -> str:
    verb = {"read": "reads", "write": "writes", "read/write": "reads and writes"}[edge["access"]]
    if direction == "in":
        return f"{edge['module']} {verb} {edge['table']}"
    return f"{verb} {edge['table']} ({edge['owner']})"


def _reason(row: dict[str, Any]) -> str:
    if row["inbound"] == 0:
        inbound = "no other module touches its tables"
    else:
        inbound = f"{row['inbound']} inbound ({'; '.join(row['inbound_edges'])}) — those callers need the ACL"
    if row["outbound"] == 0:
        outbound = "it touches no foreign table"
    else:
        outbound = f"it {'; '.join(row['outbound_edges'])} — route through the ACL"
    return f"{inbound}; {outbound}"


def feature_view(analysis: dict[str, Any], feature: str) -> dict[str, Any]:
    """What moves with `feature` and which foreign accesses must go through the ACL (either direction)."""
    modules = analysis["features"].get(feature)
    if modules is None:
        known = ", ".join(sorted(analysis["features"])) or "none"
        raise KeyError(f"unknown feature {feature!r} (known: {known}). Fix: add it under `features:` in the "
                       "footprint config, mapping it to its modules")
    mods = set(modules)
    tables = {t: e for t, e in analysis["tables"].items() if e.get("owner") in mods}
    writes = sorted({t for m in modules for t in analysis["modules"].get(m, {}).get("writes", {})})
    return {
        "feature": feature, "modules": modules,
        "tables_to_move": [{"table": t, "owner": e["owner"], "owner_source": e["owner_source"],
                            "written": t in writes} for t, e in sorted(tables.items())],
        "writes": writes,
        "acl_outbound": [e for e in analysis["coupling"] if e["module"] in mods and e["owner"] not in mods],
        "acl_inbound": [e for e in analysis["coupling"] if e["owner"] in mods and e["module"] not in mods],
    }
