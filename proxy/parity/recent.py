"""Verdicts that follow the rules: causes, field rates and verdicts over a recent window, under the rules
in force NOW.

The store keeps, per exchange, every differing field (ignored ones too) and the facts its cause is decided
from (proxy/parity/store.py `samples.detail`). Evaluating the last `ParityConfig.window` exchanges of each
route against the current ignore rules means adding or removing a rule changes the report at once, with no
`parity reset` and no history lost; removing and re-adding a rule cannot flip a noise field to real, because
its legacy-vs-legacy differences were recorded all along.

A comparison whose body only differs on noise fields (differing legacy-vs-legacy in that very request, or
judged noise over the window) has cause `noise`; reports group mismatches by cause and fold fields under it.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from proxy.parity.causes import ORDER, Cause, Classified, classify, describe
from proxy.parity.noise import FieldCounts, Thresholds, Verdict, verdict
from proxy.parity.paths import PathSet
from proxy.parity.redact import Redactor
from proxy.parity.rules import ValueRules, propose
from proxy.parity.store import ParityStore, Sample
from proxy.table import ParityConfig


@dataclass(slots=True)
class Group:
    """The requests that share one cause ("200 → 403"), with the fields they differ on folded under it."""

    cause: Cause
    label: str
    count: int = 0
    routes: Counter[str] = field(default_factory=Counter)
    fields: Counter[str] = field(default_factory=Counter)
    credentials: Counter[str] = field(default_factory=Counter)   # secret request headers carried (names only)
    elapsed_ms: list[float] = field(default_factory=list)    # error groups: how long each failed exchange took

    def headline(self) -> str:
        """"200 → 403 on 117 requests, all carrying Authorization"."""
        text = describe(self.cause, self.label, self.count)
        carried = [f"{'all' if n == self.count else n} carrying {_title(name)}"
                   for name, n in sorted(self.credentials.items(), key=lambda kv: (-kv[1], kv[0]))]
        if self.elapsed_ms:
            low, high = min(self.elapsed_ms), max(self.elapsed_ms)
            text += f", after {low:.0f} ms" if round(low) == round(high) else f", after {low:.0f}–{high:.0f} ms"
        if self.cause.differs and self.credentials:
            text += ", " + ", ".join(carried)
        elif self.cause.differs and self.count:
            text += ", none carrying credentials"
        return text

    def top_fields(self, n: int | None = None) -> list[tuple[str, int]]:
        """Fields by how many of the group's requests differ on them (ties by name: a stable order)."""
        return sorted(self.fields.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause.value, "label": self.label, "count": self.count, "headline": self.headline(),
                "routes": dict(self.routes.most_common()), "fields": dict(self.top_fields()),
                "credentials": dict(self.credentials),
                "elapsed_ms": [min(self.elapsed_ms), max(self.elapsed_ms)] if self.elapsed_ms else None}


@dataclass(slots=True)
class Evaluation:
    """One feature's recent window under the current rules."""

    feature: str
    window: int
    compared: int = 0
    errors: int = 0
    noise_samples: int = 0
    mismatches: int = 0
    groups: list[Group] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    rules_unmatched: list[str] = field(default_factory=list)   # normalise paths that matched no location

    @property
    def diff_rate(self) -> float:
        return self.mismatches / self.compared if self.compared else 0.0

    def noise_fields(self) -> list[str]:
        """Fields judged noise (ignorable JSON paths only), not real on any route."""
        real = {f["field"] for f in self.fields if f["verdict"] == Verdict.REAL.value}
        return sorted({f["field"] for f in self.fields if f["verdict"] == Verdict.NOISE.value
                       and f["field"].startswith("$")} - real)

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.window, "compared": self.compared, "errors": self.errors,
                "noise_samples": self.noise_samples, "mismatches": self.mismatches,
                "diff_rate": self.diff_rate, "groups": [g.to_dict() for g in self.groups], "fields": self.fields,
                "rules_unmatched": self.rules_unmatched}


def evaluate(feature: str, samples: Iterable[Sample], rules: ParityConfig,
             thresholds: Thresholds = Thresholds()) -> Evaluation:
    """Re-apply `rules`' ignore paths to `samples` (store.recent(feature, rules.window)), then count."""
    ignore, redactor = PathSet(rules.ignore), Redactor.of(rules.secret_headers)

    def ignored(name: str) -> bool:
        return ignore.matches_field(name)
    out = Evaluation(feature, rules.window)
    rows: list[tuple[Sample, set[str], set[str] | None]] = []
    routes: Counter[str] = Counter()
    noise_routes: Counter[str] = Counter()
    raw: Counter[tuple[str, str]] = Counter()
    noise: Counter[tuple[str, str]] = Counter()
    matched: set[str] = set()
    with_json = False
    for s in samples:
        d = s.detail
        if not d and not s.error:
            continue  # recorded before causes existed: no facts to re-evaluate
        if s.error:
            out.errors += 1
            rows.append((s, set(), None))
            continue
        diffs = {f for f in [*d.get("fields", ()), *d.get("ignored", ())] if not ignored(f)}
        heard = None if d.get("noise") is None else {f for f in d["noise"] if not ignored(f)}
        routes[s.route] += 1
        raw.update((s.route, f) for f in diffs)
        if heard is not None:
            noise_routes[s.route] += 1
            noise.update((s.route, f) for f in heard)
        matched.update(d.get("rules_matched", ()))
        with_json = with_json or "json" in ((d.get("type") or [None])[0] or "")
        rows.append((s, diffs, heard))
    out.compared, out.noise_samples = sum(routes.values()), sum(noise_routes.values())
    verdicts: dict[tuple[str, str], Verdict] = {}
    for key in sorted(raw.keys() | noise.keys()):
        counts = FieldCounts(routes[key[0]], raw[key], noise_routes[key[0]], noise[key])
        verdicts[key] = verdict(counts, thresholds)
        out.fields.append({"route": key[0], "field": key[1], "compared": counts.compared, "raw": counts.raw,
                           "noise_samples": counts.noise_samples, "noise": counts.noise,
                           "raw_rate": counts.raw_rate, "noise_rate": counts.noise_rate,
                           "verdict": verdicts[key].value})
    groups: dict[str, Group] = {}
    for s, diffs, heard in rows:
        real = {f for f in diffs if f not in (heard or ()) and verdicts.get((s.route, f)) is not Verdict.NOISE}
        cause = _cause(s, real, diffs)
        group = groups.setdefault(cause.key, Group(cause.cause, cause.label))
        group.count += 1
        group.routes[s.route] += 1
        group.fields.update(real if cause.cause.differs else diffs)
        group.credentials.update(h for h in s.detail.get("headers", ()) if redactor.is_secret(h))
        if s.error and s.latency_ms is not None:
            group.elapsed_ms.append(s.latency_ms)
        out.mismatches += int(cause.cause.differs and not s.error)
    out.groups = sorted(groups.values(), key=lambda g: (ORDER.index(g.cause), -g.count, g.label))
    if with_json:
        out.rules_unmatched = [p for p in rules.normalise if p not in matched]
    return out


def _cause(s: Sample, real: set[str], diffs: set[str]) -> Classified:
    d = s.detail
    if s.error or not d:
        return Classified(Cause.ERROR, (d.get("label") or d.get("error") or "no answer")[:80] if d else "no answer")
    if d.get("cause") == Cause.IDENTITY_REJECTED:  # decided with what the row does not keep (remote identity)
        return Classified(Cause.IDENTITY_REJECTED, d.get("label") or "")
    (ref_status, cand_status), (ref_type, cand_type) = d["status"], d["type"]
    found = classify(ref_status, cand_status, ref_type, cand_type, real, d.get("normalised", {}).values(),
                     d.get("error"))
    if found.cause is Cause.EQUAL and diffs - real:
        return Classified(Cause.NOISE)
    return found


def _title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))




def normaliser_proposals(store: ParityStore, feature: str, rules: ParityConfig) -> dict[str, str]:
    """{field: rule} for JSON fields whose stored examples are all equal under one normaliser rule (the same
    instant written two ways, 1 vs "1", null vs "") — safer than ignoring the field: a real format change
    stays visible. Fields already normalised or ignored are skipped."""
    ignore, values = PathSet(rules.ignore), ValueRules(rules)
    pairs: dict[str, list[tuple[Any, Any]]] = {}
    for example in store.examples(feature, limit=1000):
        d = example.difference
        if example.field.startswith("$") and d.get("kind") in ("changed", "type") and example.field != "$":
            pairs.setdefault(example.field, []).append((d.get("reference"), d.get("candidate")))
    out = {}
    for name, found in sorted(pairs.items()):
        if name in rules.normalise or ignore.matches_field(name):
            continue
        rule = propose(found, values)
        if rule is not None:
            out[name] = rule.value
    return out


__all__ = ["Evaluation", "Group", "evaluate", "normaliser_proposals"]
