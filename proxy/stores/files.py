"""The route table as a YAML file and the ledger as JSON lines: the default TableStore (proxy/stores).

Why a sidecar flock + atomic replace: several writers (operator CLI, admin API, rollback inside the façade) may
edit at the same moment while the façade hot-reloads the file. Under the lock each edit reads the latest file,
so none is lost; the replace means a reader sees the old or the new file, never half of one.

Why JSON lines for the ledger: appends never rewrite earlier history, a torn last line (power loss) damages
only itself, and `tail`/`jq` read it without the kit. Each append is flushed and fsynced before it returns.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxy.common.files import atomic_write
from proxy.stores import StoreError, TableDoc, digest

if TYPE_CHECKING:
    from proxy.table import RouteTable


class JsonlLedger:
    """The ledger file; `path` None means var/ledger.jsonl of the var dir in force at each call."""

    def __init__(self, path: Path | None = None):
        self._path = path

    @property
    def path(self) -> Path:
        if self._path is not None:
            return self._path
        from proxy.env import var_dir

        return var_dir() / "ledger.jsonl"

    def __str__(self) -> str:
        return str(self.path)

    @property
    def ledger_name(self) -> str:
        return str(self.path)

    def append_ledger(self, data: dict[str, Any]) -> None:
        line = (json.dumps(data, default=str, ensure_ascii=False) + "\n").encode("utf-8")
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # writers in other processes never interleave partial lines
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a torn last line stays alone (and skipped) instead of swallowing ours
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock

    def read_ledger(self, feature: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Lines that are not JSON objects (e.g. a torn write) are skipped rather than failing the read."""
        path = self.path
        if not path.exists():
            return []
        keep: deque[dict[str, Any]] = deque(maxlen=limit if limit and limit > 0 else None)
        with path.open(encoding="utf-8", errors="replace") as fh:
            for raw in fh:
                try:
                    rec = json.loads(raw)
                except json.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and (feature is None or rec.get("feature") == feature):
                    keep.append(rec)
        return list(keep)


class _LockedFile:
    def __init__(self, path: Path, text: str):
        self.path, self._text = path, text

    @property
    def text(self) -> str:
        return self._text

    def write(self, text: str, actor: str = "") -> int | None:
        atomic_write(self.path, text)
        self._text = text
        return None  # a file keeps no version


class FileTableStore(JsonlLedger):
    """The table file `path` and its ledger (`ledger`, else var/ledger.jsonl)."""

    pushes_changes = False  # found by polling (mtime, size, inode): cheap, and only changed files are read

    def __init__(self, path: Path, *, ledger: Path | None = None):
        super().__init__(ledger)
        self.table_path = Path(path)
        self._read_key: tuple[int, int, int] | None = None  # the file's stat when it was last read

    def __str__(self) -> str:
        return str(self.table_path)

    def __repr__(self) -> str:
        return f"FileTableStore({str(self.table_path)!r})"

    def _stat_key(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.table_path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def _text(self) -> str:
        try:
            return self.table_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read route table {self.table_path}: {exc}; check --routes / "
                             "STRANGLER_ROUTES_FILE") from None

    def read(self) -> TableDoc:
        key = self._stat_key()
        text = self._text()
        self._read_key = key
        return TableDoc(text, digest(text.encode("utf-8")))

    def load(self) -> RouteTable:
        from proxy.table import load_table

        return load_table(self.table_path)

    def version(self) -> int | None:
        return None

    @contextlib.contextmanager
    def locked(self) -> Iterator[_LockedFile]:
        """flock on a sidecar file (the table itself is replaced, so it cannot carry the lock)."""
        lock_path = self.table_path.with_name(f".{self.table_path.name}.lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create lock file {lock_path}: {exc}; is the directory writable?") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield _LockedFile(self.table_path, self._text())
        finally:
            os.close(fd)

    def push(self, text: str, *, actor: str) -> int | None:
        with self.locked() as table:
            table.write(text, actor)
        return None

    async def watch(self, changed: Callable[[], None], poll_s: Callable[[], float]) -> None:
        """Compare (mtime, size, inode) with the last read's every `poll_s()`: only a changed file is read."""
        while True:
            await asyncio.sleep(poll_s())
            if self._stat_key() != self._read_key:
                changed()
