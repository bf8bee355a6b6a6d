"""The shared helpers in proxy/common: one timestamp format, durable atomic writes, one did-you-mean."""
from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from proxy.common.clock import parse_stamp, stamp
from proxy.common.files import atomic_write
from proxy.common.suggest import did_you_mean


def test_stamp_is_utc_with_milliseconds_and_z_whatever_it_is_given() -> None:
    moment = datetime(2026, 12, 6, 21, 0, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert stamp(moment) == "2026-12-06T19:00:05.123Z"
    assert stamp(moment.timestamp()) == "2026-12-06T19:00:05.123Z"
    now = stamp()
    assert now.endswith("Z") and len(now) == len("2026-12-06T19:00:05.123Z")
    assert parse_stamp(stamp(moment)) == moment.replace(microsecond=123000)
    assert parse_stamp("2026-12-06T19:00:05") == datetime(2026, 12, 6, 19, 0, 5, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_stamp("yesterday")


def test_atomic_write_replaces_keeps_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "routes.yaml"
    atomic_write(target, "a: 1\n")
    assert target.read_text() == "a: 1\n" and target.stat().st_mode & 0o777 == 0o644
    os.chmod(target, 0o600)
    atomic_write(target, b"a: 2\n")
    assert target.read_bytes() == b"a: 2\n" and target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["routes.yaml"]


def test_a_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    target = tmp_path / "big.txt"
    bodies = [("x" * 200_000).encode(), ("y" * 300_000).encode()]
    atomic_write(target, bodies[0])
    seen: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(len(target.read_bytes()))

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(60):  # bounded
        atomic_write(target, bodies[i % 2])
    stop.set()
    reader.join()
    assert seen <= {200_000, 300_000}


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    atomic_write(target, "old")
    with pytest.raises(TypeError):
        atomic_write(target, 12)  # type: ignore[arg-type]
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_did_you_mean() -> None:
    assert did_you_mean("ordres", ["orders", "catalog"]) == " (did you mean 'orders'?)"
    assert did_you_mean("zzz", ["orders", "catalog"]) == ""
    assert did_you_mean("prod_nm", ["PROD_NM", "PRICE"], ignore_case=True) == " (did you mean 'PROD_NM'?)"
