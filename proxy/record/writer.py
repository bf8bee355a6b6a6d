"""The recording writer: a process of its own that redacts, signs and stores what the façade recorded.

Why a process: redaction (JSON parsing of both bodies), signatures and store writes on the façade's one
event loop would cost the client; the façade only samples and hands over a compact tuple per exchange
through the same kind of pipe as the shadow worker (proxy/shadow/link.py: frames of pickled batches, dropped
and counted on the façade's side when this process lags or is down). Nothing reaches the store unredacted.

Messages in: ("table", RouteTable) at start and on every swap; ("rec", tuple(Captured)). It exits when its
stdin closes, after writing what it holds. Run by the façade as `python -m proxy.record.writer --db PATH`.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from typing import Any

from proxy.parity.redact import StableRedactor
from proxy.parity.store import open_store
from proxy.record.capture import Captured, capture, redactor_for
from proxy.record.config import DEFAULT_FEATURE, RecordConfig
from proxy.record.storage import RecordingStore
from proxy.shadow.worker import read_frame
from proxy.table import RouteTable

log = logging.getLogger("strangler.record")
FLUSH_S = 0.25
BATCH = 500
WARN_AFTER = 200  # a redaction rule checked against this many recordings without a match is warned about, once
NICE = 10


def config_of(table: RouteTable | None, feature: str) -> RecordConfig | None:
    if table is None:
        return None
    if feature == DEFAULT_FEATURE:
        return table.record
    spec = table.features.get(feature)
    return spec.record if spec is not None else None


class Writer:
    def __init__(self, recordings: RecordingStore):
        self.recordings = recordings
        self.salt = recordings.salt()
        self.table: RouteTable | None = None
        self._redactors: dict[str, tuple[RecordConfig, StableRedactor]] = {}
        self._rows: list[tuple[Any, ...]] = []
        self._cases: dict[tuple[str, str], list[Any]] = {}
        self._rules: dict[tuple[str, str], list[int]] = {}
        self._limits: dict[str, int] = {}
        self._checked: dict[tuple[str, str], list[int]] = {}  # (feature, rule) -> [matched, checked] so far
        self._warned: set[tuple[str, str]] = set()
        self.failed = 0

    def handle(self, message: tuple[Any, ...]) -> None:
        if message[0] == "table":
            self.table, self._redactors = message[1], {}
        elif message[0] == "rec":
            self.add(Captured(*message[1]))

    def add(self, c: Captured) -> None:
        config = config_of(self.table, c.feature)
        if config is None:  # recording switched off since the façade decided: nothing kept
            return
        cached = self._redactors.get(c.feature)
        if cached is None or cached[0] is not config:
            cached = self._redactors[c.feature] = (config, redactor_for(config, self.salt))
        hits: set[str] = set()
        try:
            row, key, case = capture(c, config, cached[1], hits)
        except Exception:  # one malformed exchange must not stop the writer; counted, logged once
            self.failed += 1
            if self.failed == 1:
                log.exception("recording of %s %s not kept (this is logged once; later ones only counted)",
                              c.method, c.route)
            return
        self._rows.append(row)
        seen = self._cases.get(key)
        if seen is None:
            self._cases[key] = case
        else:
            seen[4] += 1
            seen[5], seen[6] = min(seen[5], c.ts), max(seen[6], c.ts)
        for rule in config.redact.rules:
            counts = self._rules.setdefault((c.feature, rule), [0, 0])
            counts[0] += rule in hits
            counts[1] += 1
            self._warn(c.feature, rule, rule in hits)
        self._limits[c.feature] = int(config.max_mb * 1024 * 1024)

    def _warn(self, feature: str, rule: str, matched: bool) -> None:
        total = self._checked.setdefault((feature, rule), [0, 0])
        total[0] += matched
        total[1] += 1
        if total[1] >= WARN_AFTER and not total[0] and (feature, rule) not in self._warned:
            self._warned.add((feature, rule))
            log.warning("record.redact rule %s of feature %s matched none of %d recordings. Fix: check its spelling "
                        "against `strangler record show ID` (header and query names, JSON paths like $.password)",
                        rule, feature, total[1])

    @property
    def pending(self) -> int:
        return len(self._rows)

    def flush(self) -> int:
        if not self._rows and not self._rules:
            return 0
        rows, cases, rules, limits = self._rows, self._cases, self._rules, self._limits
        self._rows, self._cases, self._rules, self._limits = [], {}, {}, {}
        self.recordings.write(rows, cases, rules, limits)
        return len(rows)


async def serve(db: str) -> None:
    store = open_store(db, background=False)
    writer = Writer(RecordingStore(store))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    ticker = loop.create_task(_tick(writer))
    try:
        while (batch := await read_frame(reader)) is not None:  # never cancelled mid-frame: the stream stays framed
            for message in batch:
                writer.handle(message)
            if writer.pending >= BATCH:
                _flush(writer)
    finally:
        ticker.cancel()
        _flush(writer)
        store.close()


async def _tick(writer: Writer) -> None:
    while True:
        await asyncio.sleep(FLUSH_S)
        _flush(writer)


def _flush(writer: Writer) -> None:
    try:
        writer.flush()
    except Exception:  # the store is down or full: this batch is lost (logged), the writer lives on
        log.exception("recordings not written")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="Parity store (SQLite file or PostgreSQL URL).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(OSError):
        os.nice(NICE)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.db))


if __name__ == "__main__":
    main()
