"""Flip a feature's state (and who owns its writes) in the route table: the one code path used by the CLI,
the admin API, the dashboard and automatic rollback.

A flip is a table edit (proxy.table_edit.edit_table: under the store's lock, comment-keeping, validated)
judged by gates and recorded in the ledger as a FlipRecord in the same lock or transaction. Gates are passed
in by each front end (the CLI's kit gates, the façade's `strangler_gates`); nothing is registered
process-wide.
"""
from __future__ import annotations

import dataclasses
import getpass
import os
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.common.clock import stamp
from proxy.common.suggest import did_you_mean
from proxy.stores import TableStore, open_ledger
from proxy.table import RouteTable, State, WritesOwner
from proxy.table_edit import FlipError, TableEdit, edit_table, set_key_after_state, table_store

Gate = Callable[[RouteTable, str, State], list[str]]  # reasons to refuse; empty list = allowed
LADDER = (State.LEGACY, State.SHADOW, State.CANARY, State.NEW, State.RETIRED)


@dataclass(frozen=True)
class Move:
    """The move gates judge, beyond the (table, feature, to) a Gate is called with: percents and the
    feature's recent parity figures (proxy.evidence), read once per flip. `current_move()` while gates run."""

    feature: str
    from_state: State
    from_percent: float | None
    to_state: State
    to_percent: float | None
    figures: Any = None          # proxy.evidence.Figures, None when they could not be read
    figures_problem: str = ""    # why not (fail closed in gates that need them)

    @property
    def promotes(self) -> bool:
        """Up the ladder onto the target: to canary from below (or a higher percent), to new from below.
        `retired` is not a promotion here: it is only reachable from `new` (retire_rule)."""
        if self.to_state is State.CANARY:
            return LADDER.index(self.from_state) < LADDER.index(State.CANARY) or (
                self.from_state is State.CANARY and (self.to_percent or 0) > (self.from_percent or 0))
        return self.to_state is State.NEW and LADDER.index(self.from_state) < LADDER.index(State.NEW)


_MOVE: ContextVar[Move | None] = ContextVar("strangler_flip_move", default=None)


def current_move() -> Move | None:
    """The move being judged, for a gate called by flip_feature (None outside a flip)."""
    return _MOVE.get()


@dataclass
class FlipRecord:
    ts: str
    actor: str
    feature: str
    from_state: str
    to_state: str
    from_percent: float | None  # the canary percent, only when that side is 'canary'
    to_percent: float | None
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    forced: bool = False  # True when force=True overrode refusals (listed in evidence["overridden"])
    # who serves the feature's writes before/after (records written before writes_owner existed lack both)
    from_writes_owner: str | None = WritesOwner.LEGACY.value  # None: an entry about no feature's writes
    to_writes_owner: str | None = WritesOwner.LEGACY.value
    changed: bool = True  # False for a no-op flip (already there); no-ops are not written to the ledger

    @classmethod
    def note(cls, feature: str, state: State | str, percent: float | None = None, *, actor: str, reason: str,
             evidence: dict[str, Any] | None = None, to_state: str | None = None) -> FlipRecord:
        """A ledger entry that moves no traffic (a table push, a parity ignore rule, a dry-run verdict): the
        feature's state (and its canary percent) on both sides unless `to_state` says otherwise; no owners."""
        shown = str(getattr(state, "value", state))
        pct = float(percent) if shown == State.CANARY.value and percent is not None else None
        return cls(ts=stamp(), actor=actor, feature=feature, from_state=shown, to_state=to_state or shown,
                   from_percent=pct, to_percent=pct if to_state is None else None, reason=reason,
                   evidence=dict(evidence or {}), from_writes_owner=None, to_writes_owner=None)

    def shown_from(self) -> str:
        """The state, and the writes owner when the flip changes it (for refusal messages)."""
        return _shown(State(self.from_state), WritesOwner(self.from_writes_owner or "legacy"),
                      WritesOwner(self.to_writes_owner or "legacy"))

    def shown_to(self) -> str:
        return _shown(State(self.to_state), WritesOwner(self.to_writes_owner or "legacy"),
                      WritesOwner(self.from_writes_owner or "legacy"))

    def to_dict(self) -> dict[str, Any]:
        """The ledger line (without `changed`, which only the caller needs; owners only when known)."""
        data = dataclasses.asdict(self)
        data.pop("changed")
        for side in ("from_writes_owner", "to_writes_owner"):
            if data[side] is None:
                data.pop(side)
        return data


def default_actor() -> str:
    """$STRANGLER_ACTOR, else the OS user name: who did it, for the ledger."""
    actor = os.environ.get("STRANGLER_ACTOR", "").strip()
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def parse_state(value: str | State) -> State:
    """State from user input; FlipError listing the valid names otherwise."""
    try:
        return State(str(value).strip().lower())
    except ValueError:
        names = [s.value for s in State]
        hint = did_you_mean(str(value).lower(), names)
        raise FlipError(f"unknown state {value!r}{hint}; use one of: {', '.join(names)}") from None


def parse_writes_owner(value: str | WritesOwner) -> WritesOwner:
    """WritesOwner from user input; FlipError naming the two valid values otherwise."""
    try:
        return WritesOwner(str(value).strip().lower())
    except ValueError:
        raise FlipError(f"unknown writes owner {value!r}; use legacy or service") from None


def retire_rule(table: RouteTable, feature: str, to: State) -> list[str]:
    """Built-in gate: retiring removes the legacy fallback, so only a feature already fully on `new` may;
    and `retired` sends every write to the service, so the service must own the writes (`table` shows the
    owner the flip leaves in force)."""
    current = table.features[feature]
    reasons = []
    if to is State.RETIRED and current.state not in (State.NEW, State.RETIRED):
        reasons.append(f"'retired' removes the legacy fallback; flip {feature!r} to 'new' first "
                       f"(it is {current.state.value!r})")
    if to is State.RETIRED and current.writes_owner is WritesOwner.LEGACY:
        reasons.append(f"'retired' sends every write to the service, but legacy owns {feature!r}'s writes. "
                       f"Fix: hand them over first: `strangler migrate handover {feature} --writes service`")
    return reasons


def flip_feature(routes_path: TableStore | str | os.PathLike[str], feature: str, to: State | str | None, *,
                 percent: float | None = None, actor: str, reason: str = "", evidence: dict[str, Any] | None = None,
                 force: bool = False, gates: Sequence[Gate] = (), ledger_path: Path | None = None,
                 writes_owner: WritesOwner | str | None = None, parity: str | Path | None = None,
                 read_figures: bool = True) -> FlipRecord:
    """Move `feature` to state `to` (None: keep its state) and, with `writes_owner`, hand its writes to that
    side — routing and ownership in one edit under the table's lock, one ledger record; see module doc.
    Gates see the table with the new owner. The ledger record goes to the store's own ledger in the same lock
    or transaction (`ledger_path`: that JSONL file instead, under the same lock). A state/percent change
    reads the feature's recent parity figures from the parity store at `parity` (None: the configured one)
    for the gates and the ledger entry;
    `read_figures=False` when the caller brings its own figures in `evidence` (auto-rollback)."""
    store = table_store(routes_path)
    to_state = parse_state(to) if to is not None else None
    to_owner = parse_writes_owner(writes_owner) if writes_owner is not None else None
    if percent is not None and to_state is not State.CANARY:
        shown = to_state.value if to_state is not None else "unchanged"
        raise FlipError(f"a percent only applies to state 'canary' (not {shown!r}); drop --percent")
    if percent is not None and not 0 < percent <= 100:
        raise FlipError(f"canary percent {percent:g} is out of range; use 0 < N <= 100")

    def mutate(table: RouteTable, doc: Any) -> FlipRecord:
        record, refusals = judge(table, feature, to_state, percent=percent, writes_owner=to_owner, actor=actor,
                                 reason=reason, evidence=evidence, gates=gates, source=store,
                                 figures=figures_from(parity) if read_figures else None)
        if not record.changed:
            return record
        if refusals and not force:
            raise FlipError(f"flip of {feature!r} {record.shown_from()} -> {record.shown_to()} refused:\n  - "
                            + "\n  - ".join(refusals) + "\n(use --force to override; it is recorded)", refusals)
        if refusals:
            record.forced = True
            record.evidence["overridden"] = refusals
        state, owner = State(record.to_state), WritesOwner(record.to_writes_owner or WritesOwner.LEGACY.value)
        current = table.features[feature]
        _set_state(doc, feature, state, record.to_percent if state is State.CANARY else None)
        if owner is not current.writes_owner:
            set_key_after_state(doc["features"][feature], "writes_owner", owner.value)
        return record

    ledger = open_ledger(ledger_path) if ledger_path is not None else store
    edit = edit_table(store, mutate, after_write=lambda rec: ledger.append_ledger(rec.to_dict()))
    return edit.value


FiguresReader = Callable[[Move, Any], Move]  # (move, the feature's parity rules) -> the move with its figures


def judge(table: RouteTable, feature: str, to_state: State | None, *, percent: float | None = None,
          writes_owner: WritesOwner | None = None, actor: str = "", reason: str = "",
          evidence: dict[str, Any] | None = None, gates: Sequence[Gate] = (), source: object = "the route table",
          figures: FiguresReader | None = None) -> tuple[FlipRecord, list[str]]:
    """The record this flip would write and the gates' refusals, without writing anything: what flip_feature
    decides inside its lock, and what a front end asks to show only the moves allowed now (`precheck`).
    `record.changed` is False for a no-op; `figures` reads the move's parity figures (None: not read)."""
    current = feature_or_error(table, feature, source)
    state = to_state or current.state
    owner = writes_owner or current.writes_owner
    to_pct = percent if percent is not None else current.canary_percent
    if state is State.CANARY and to_pct <= 0:
        raise FlipError(f"canary needs a percent and {feature!r} has none set; give --percent N (0 < N <= 100)")
    record = FlipRecord(
        ts=stamp(), actor=actor, feature=feature, from_state=current.state.value, to_state=state.value,
        from_percent=_shown_percent(current.state, current.canary_percent),
        to_percent=_shown_percent(state, to_pct), reason=reason, evidence=dict(evidence or {}),
        from_writes_owner=current.writes_owner.value, to_writes_owner=owner.value,
    )
    if current.state is state and record.from_percent == record.to_percent and current.writes_owner is owner:
        record.changed = False
        return record, []
    seen = table if owner is current.writes_owner else _with_owner(table, feature, owner)
    moves = (state, record.to_percent) != (current.state, record.from_percent)
    asked = (retire_rule, *gates) if moves else (retire_rule,)  # ownership only: handover checks the data
    move = Move(feature, current.state, record.from_percent, state, record.to_percent)
    if moves and figures is not None:
        move = figures(move, current.parity)
        record.evidence = ({**move.figures.to_dict(), **record.evidence} if move.figures is not None
                           else {"figures_unavailable": move.figures_problem, **record.evidence})
    token = _MOVE.set(move)
    try:
        refusals = [r for gate in asked for r in _ask(gate, seen, feature, state)]
    finally:
        _MOVE.reset(token)
    return record, refusals


def precheck(table: RouteTable, feature: str, to: State | str, *, percent: float | None = None,
             gates: Sequence[Gate] = (), figures: FiguresReader | None = None) -> tuple[FlipRecord, list[str]]:
    """Would this flip be allowed now? The same judgement as flip_feature (built-in rule, the given gates, the
    same figures), nothing written: (the record it would write with its evidence, the refusals)."""
    return judge(table, feature, parse_state(to), percent=percent, gates=gates, figures=figures)


def figures_from(parity: str | Path | None) -> FiguresReader:
    """A FiguresReader for the parity store at `parity` (None: the configured one), as flip_feature reads it."""
    return lambda move, rules: _with_figures(move, parity, rules)


def _with_figures(move: Move, parity: str | Path | None, rules: Any) -> Move:
    """The move with the feature's recent parity figures, or the reason they could not be read."""
    from proxy.evidence import recent_figures
    from proxy.parity.store import parity_location

    try:
        return dataclasses.replace(move, figures=recent_figures(parity_location(parity), move.feature, rules))
    except Exception as exc:  # noqa: BLE001 - an unreadable store must not crash a flip; gates fail closed on it
        return dataclasses.replace(move, figures_problem=f"{type(exc).__name__}: {exc}"[:300])


def feature_or_error(table: RouteTable, feature: str, source: object) -> Any:
    """The table's Feature, or a FlipError listing the known names (with a 'did you mean')."""
    if feature not in table.features:
        known = list(table.features)
        raise FlipError(f"unknown feature {feature!r}{did_you_mean(feature, known)}; features in {source}: "
                        f"{', '.join(known) or '(none)'}")
    return table.features[feature]


def _shown_percent(state: State, percent: float) -> float | None:
    return float(percent) if state is State.CANARY else None


def _shown(state: State, owner: WritesOwner, other: WritesOwner) -> str:
    """The state, and the writes owner when the flip changes it."""
    return state.value if owner is other else f"{state.value} (writes: {owner.value})"


def _with_owner(table: RouteTable, feature: str, owner: WritesOwner) -> RouteTable:
    """The table as the flip leaves it for ownership, for the gates to judge."""
    features = {**table.features, feature: table.features[feature].model_copy(update={"writes_owner": owner})}
    return table.model_copy(update={"features": features})


def _ask(gate: Gate, table: RouteTable, feature: str, to: State) -> list[str]:
    """A gate that crashes refuses (fail closed) with its error as the reason."""
    try:
        return [str(r) for r in gate(table, feature, to)]
    except Exception as exc:  # noqa: BLE001 - any gate bug must become a refusal, not a traceback
        name = getattr(gate, "__name__", type(gate).__name__)
        return [f"gate {name} failed: {type(exc).__name__}: {exc}"]


def _set_state(doc: Any, feature: str, state: State, percent: float | None) -> None:
    """Change only the feature's state (and canary_percent) in the round-trip tree."""
    node = doc["features"][feature]
    node["state"] = state.value
    if percent is not None:
        value: float | int = int(percent) if float(percent).is_integer() else float(percent)
        set_key_after_state(node, "canary_percent", value)


__all__ = ["LADDER", "FiguresReader", "FlipError", "FlipRecord", "Gate", "Move", "TableEdit", "current_move",
           "default_actor", "edit_table", "feature_or_error", "figures_from", "flip_feature", "judge", "parse_state",
           "parse_writes_owner", "precheck", "retire_rule"]
