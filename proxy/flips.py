"""Flip a feature's state in the route table (file, or the shared PostgreSQL store): the one code path used by the CLI, the admin API
and automatic rollback.

Why a file lock + atomic replace: several writers (operator CLI, admin API, rollback inside the façade) may
flip at the same moment, and the façade hot-reloads the file while we write it. Under the lock each flip
reads the latest file, so no flip is lost; `os.replace` means a reader sees the old or the new file, never
half of one. Comments and key order survive because we edit the ruamel round-trip tree, not a dict.
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import fcntl
import getpass
import io
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.util import load_yaml_guess_indent

from proxy.ledger import append_record, default_ledger_path
from proxy.shared_store import SharedStore, StoreError, is_store_url, store_for
from proxy.table import RouteTable, State, TableError, WritesOwner, parse_table

Gate = Callable[[RouteTable, str, State], list[str]]  # reasons to refuse; empty list = allowed
_REGISTERED_GATES: dict[str, Gate] = {}
T = TypeVar("T")
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


def register_gate(name: str, gate: Gate) -> None:
    """Let another part (e.g. data migration's ownership check) refuse flips from every front end that
    passes `registered_gates()` (the CLI does). Registering a name again replaces the gate."""
    _REGISTERED_GATES[name] = gate


def registered_gates() -> list[Gate]:
    return list(_REGISTERED_GATES.values())


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
    from_writes_owner: str = WritesOwner.LEGACY.value
    to_writes_owner: str = WritesOwner.LEGACY.value
    changed: bool = True  # False for a no-op flip (already there); no-ops are not written to the ledger

    def to_dict(self) -> dict[str, Any]:
        """The ledger line (without `changed`, which only the caller needs)."""
        data = dataclasses.asdict(self)
        data.pop("changed")
        return data


class FlipError(ValueError):
    """A flip that was not done; the message says why and what to do. `reasons` lists gate refusals."""

    def __init__(self, message: str, reasons: Sequence[str] = ()):
        super().__init__(message)
        self.reasons = list(reasons)


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
        close = difflib.get_close_matches(str(value).lower(), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
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


@dataclass
class TableEdit(Generic[T]):
    """What `edit_table` did: the mutator's value, whether the file changed, and the table now in force."""

    value: T
    changed: bool
    table: RouteTable


def edit_table(routes_path: Path | SharedStore | str, mutate: Callable[[RouteTable, Any], T], *,
               after_write: Callable[[T], None] | None = None) -> TableEdit[T]:
    """Edit the route table safely: the one write path for flips, parity ignore rules and rollback.

    Under the exclusive lock: read the latest table and validate it (FlipError if it is already invalid),
    call `mutate(table, doc)` where `doc` is the ruamel round-trip tree (edit it in place to keep comments and
    key order; raise FlipError to refuse), validate the whole edited table (FlipError naming the problem,
    nothing written), replace it atomically, then run `after_write(value)` still under the lock (e.g. a
    ledger append, so ledger order matches table order). A mutator that leaves the tree unchanged writes nothing.

    `routes_path` is the YAML file, or a SharedStore (or its postgresql URL): then the lock is the table
    row's (SELECT ... FOR UPDATE), the write a compare-and-swap on its version, and the ledger append joins
    the same transaction, so a failed append un-does the flip.
    """
    location = routes_location(routes_path)
    if isinstance(location, SharedStore):
        return _edit_shared(location, mutate, after_write)
    routes_path = location
    with _exclusive_lock(routes_path):
        edit, new_text = _apply(_read(routes_path), str(routes_path), mutate)
        if new_text is None:
            return edit
        _atomic_write(routes_path, new_text)
        if after_write is not None:
            after_write(edit.value)
    return edit


def routes_location(value: Path | SharedStore | str) -> Path | SharedStore:
    """A table file path, or the shared store for a SharedStore / postgresql URL."""
    if isinstance(value, SharedStore):
        return value
    if is_store_url(value):
        try:
            return store_for(str(value))
        except StoreError as exc:
            raise FlipError(str(exc)) from None
    return Path(value)


def _apply(text: str, source: str, mutate: Callable[[RouteTable, Any], T]) -> tuple[TableEdit[T], str | None]:
    """Validate, mutate the round-trip tree, validate the result: (edit, new text or None when unchanged)."""
    try:
        table = parse_table(text, source=source)
    except TableError as exc:
        raise FlipError(f"the route table is invalid; fix it first:\n{exc}") from None
    yaml, doc = _round_trip(text)
    before = _dump(yaml, doc)
    value = mutate(table, doc)
    new_text = _dump(yaml, doc)
    if new_text == before:
        return TableEdit(value, False, table), None
    try:
        new_table = parse_table(new_text, source=source)
    except TableError as exc:
        raise FlipError(f"the edited table would be invalid; nothing written:\n{exc}") from None
    return TableEdit(value, True, new_table), new_text


def _edit_shared(store: SharedStore, mutate: Callable[[RouteTable, Any], T],
                 after_write: Callable[[T], None] | None) -> TableEdit[T]:
    import psycopg

    try:
        with store.locked() as locked:
            edit, new_text = _apply(locked.row.document, str(store), mutate)
            if new_text is not None:
                locked.write(new_text, actor=str(getattr(edit.value, "actor", "")))
                if after_write is not None:
                    after_write(edit.value)
        return edit
    except StoreError as exc:
        raise FlipError(str(exc)) from None
    except psycopg.Error as exc:
        raise FlipError(f"the shared store {store} failed; nothing written: {exc}") from None


def flip_feature(routes_path: Path | SharedStore | str, feature: str, to: State | str | None, *,
                 percent: float | None = None, actor: str, reason: str = "", evidence: dict | None = None,
                 force: bool = False, gates: Sequence[Gate] = (), ledger_path: Path | None = None,
                 writes_owner: WritesOwner | str | None = None, parity: str | Path | None = None,
                 read_figures: bool = True) -> FlipRecord:
    """Move `feature` to state `to` (None: keep its state) and, with `writes_owner`, hand its writes to that
    side — routing and ownership in one edit under the table's lock, one ledger record; see module doc.
    Gates see the table with the new owner. With the table in the shared store the ledger record goes to the
    store's ledger (same transaction). A state/percent change reads the feature's recent parity figures
    from the parity store at `parity` (None: the configured one) for the gates and the ledger entry;
    `read_figures=False` when the caller brings its own figures in `evidence` (auto-rollback)."""
    routes_path = routes_location(routes_path)
    to_state = parse_state(to) if to is not None else None
    to_owner = parse_writes_owner(writes_owner) if writes_owner is not None else None
    if percent is not None and to_state is not State.CANARY:
        shown = to_state.value if to_state is not None else "unchanged"
        raise FlipError(f"a percent only applies to state 'canary' (not {shown!r}); drop --percent")
    if percent is not None and not 0 < percent <= 100:
        raise FlipError(f"canary percent {percent:g} is out of range; use 0 < N <= 100")

    def mutate(table: RouteTable, doc: Any) -> FlipRecord:
        current = feature_or_error(table, feature, routes_path)
        state = to_state or current.state
        owner = to_owner or current.writes_owner
        to_pct = percent if percent is not None else current.canary_percent
        if state is State.CANARY and to_pct <= 0:
            raise FlipError(f"canary needs a percent and {feature!r} has none set; give --percent N (0 < N <= 100)")
        record = FlipRecord(
            ts=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            actor=actor, feature=feature, from_state=current.state.value, to_state=state.value,
            from_percent=_shown_percent(current.state, current.canary_percent),
            to_percent=_shown_percent(state, to_pct), reason=reason, evidence=dict(evidence or {}),
            from_writes_owner=current.writes_owner.value, to_writes_owner=owner.value,
        )
        if current.state is state and record.from_percent == record.to_percent and current.writes_owner is owner:
            record.changed = False
            return record
        seen = table if owner is current.writes_owner else _with_owner(table, feature, owner)
        moves = (state, record.to_percent) != (current.state, record.from_percent)
        asked = (retire_rule, *gates) if moves else (retire_rule,)  # ownership only: handover checks the data
        move = Move(feature, current.state, record.from_percent, state, record.to_percent)
        if moves and read_figures:
            move = _with_figures(move, parity, current.parity)
            record.evidence = ({**move.figures.to_dict(), **record.evidence} if move.figures is not None
                               else {"figures_unavailable": move.figures_problem, **record.evidence})
        token = _MOVE.set(move)
        try:
            refusals = [r for gate in asked for r in _ask(gate, seen, feature, state)]
        finally:
            _MOVE.reset(token)
        if refusals and not force:
            raise FlipError(f"flip of {feature!r} {_shown(current.state, current.writes_owner, owner)} -> "
                            f"{_shown(state, owner, current.writes_owner)} refused:\n  - "
                            + "\n  - ".join(refusals) + "\n(use --force to override; it is recorded)", refusals)
        if refusals:
            record.forced = True
            record.evidence["overridden"] = refusals
        _set_state(doc, feature, state, to_pct if state is State.CANARY else None)
        if owner is not current.writes_owner:
            _set_key_after_state(doc["features"][feature], "writes_owner", owner.value)
        return record

    ledger = ledger_path or (routes_path if isinstance(routes_path, SharedStore) else default_ledger_path())
    edit = edit_table(routes_path, mutate, after_write=lambda rec: append_record(ledger, rec.to_dict()))
    return edit.value


def _with_figures(move: Move, parity: str | Path | None, rules: Any) -> Move:
    """The move with the feature's recent parity figures, or the reason they could not be read."""
    from proxy.evidence import recent_figures
    from proxy.parity.store import parity_location

    try:
        return dataclasses.replace(move, figures=recent_figures(parity_location(parity), move.feature, rules))
    except Exception as exc:  # noqa: BLE001 - an unreadable store must not crash a flip; gates fail closed on it
        return dataclasses.replace(move, figures_problem=f"{type(exc).__name__}: {exc}"[:300])


def feature_or_error(table: RouteTable, feature: str, routes_path: Path) -> Any:
    """The table's Feature, or a FlipError listing the known names (with a 'did you mean')."""
    if feature not in table.features:
        known = list(table.features)
        close = difflib.get_close_matches(feature, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FlipError(f"unknown feature {feature!r}{hint}; features in {routes_path}: "
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


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlipError(f"cannot read route table {path}: {exc}; check --routes / STRANGLER_ROUTES_FILE") from None


def _round_trip(text: str) -> tuple[YAML, Any]:
    """A ruamel round-trip loader/dumper configured to write the file back in its own indentation style."""
    _, seq_indent, seq_offset = load_yaml_guess_indent(text)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    seq_offset = seq_offset or 0
    yaml.indent(mapping=_mapping_indent(text), sequence=max(seq_indent or 2, seq_offset + 2), offset=seq_offset)
    return yaml, yaml.load(text)


def _dump(yaml: YAML, doc: Any) -> str:
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _set_state(doc: Any, feature: str, state: State, percent: float | None) -> None:
    """Change only the feature's state (and canary_percent) in the round-trip tree."""
    node = doc["features"][feature]
    node["state"] = state.value
    if percent is not None:
        value: float | int = int(percent) if float(percent).is_integer() else float(percent)
        _set_key_after_state(node, "canary_percent", value)


def _set_key_after_state(node: Any, key: str, value: Any) -> None:
    """Set `key` in a feature's round-trip node; a new key goes right after `state` (readers look there)."""
    if key in node:
        node[key] = value
    else:
        keys = list(node)
        node.insert(keys.index("state") + 1 if "state" in keys else len(keys), key, value)


def _mapping_indent(text: str) -> int:
    """Smallest indentation of a nested mapping key (ruamel's guesser only measures sequences)."""
    widths = [len(line) - len(line.lstrip(" ")) for line in text.splitlines()
              if line.strip() and not line.lstrip().startswith(("#", "-")) and line.startswith(" ")]
    return min(widths, default=2)


@contextlib.contextmanager
def _exclusive_lock(routes_path: Path) -> Iterator[None]:
    """flock on a sidecar file (the table itself is replaced, so it cannot carry the lock)."""
    lock_path = routes_path.with_name(f".{routes_path.name}.lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise FlipError(f"cannot create lock file {lock_path}: {exc}; is the directory writable?") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
