"""Replayed writes, with real processes (the dry-run suite's loans app, tests/fixtures/loans_app.py): recorded
writes go nowhere until the target has PROVEN it honours dry-run; then they are sent signed and rolled back
there; a target redeployed without the adapter commits the first one, is marked unsafe and gets no more."""
from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.integration.dry_run.conftest import Stack, loans_stack, post_loan, rows, target_state, wait_for


def _replay(stack: Stack) -> dict:
    done = stack.cli("parity", "replay", "loans", "--json", "--routes", str(stack.routes))
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: above the limits, still a summary
    return json.loads(done.stdout)


def test_recorded_writes_reach_only_a_proven_target(tmp_path: Path) -> None:
    with loans_stack(tmp_path, "loans_adapted:app", state="legacy") as stack:
        table = stack.routes.read_text().replace("    state: legacy\n", "    state: legacy\n    record: {rate: 1.0}\n")
        stack.routes.write_text(table)  # recording switched on in a running façade: its writer starts
        wait_for(lambda: stack.metric("strangler_record_writer_pid") > 0, "the recording writer")
        post_loan(stack, "rec-1")
        assert httpx.get(stack.facade + "/loans", timeout=10).status_code == 200
        wait_for(lambda: stack.metric("strangler_record_total", feature="loans") >= 2, "two exchanges recorded")
        wait_for(lambda: len(json.loads(stack.cli("record", "list", "loans", "--json").stdout or "[]")) >= 2,
                 "two recordings stored", timeout=30)  # the writer stores them a batch later than it counts them
        listed = stack.cli("record", "list", "loans", "--json")
        assert listed.returncode == 0, listed.stderr

        unproven = _replay(stack)
        assert any(reason.startswith("write (the target has not proven") for reason in unproven["skipped"]), unproven
        assert not unproven["writes"] and rows(stack.target_db) == 0

        probe = stack.cli("parity", "probe-writes", "loans", "--routes", str(stack.routes))
        assert probe.returncode == 0, probe.stdout + probe.stderr
        proven = _replay(stack)
        assert proven["writes"] and proven["compared"] == 2 and proven["errors"] == 0, proven
        # the write's 201 and body match legacy's recorded answer; the read's count differs from legacy's now
        # (legacy holds rec-1, the target none)
        assert [d["request"] for d in proven["differing"]] == ["GET /loans"], proven["differing"]
        assert rows(stack.target_db) == 0  # sent signed, rolled back there
        assert rows(stack.legacy_db) == 1  # a replayed write is compared with its recorded answer, never resent

        stack.redeploy_target("loans_app:app")  # the same service without strangler_app: it commits writes
        unsafe = _replay(stack)
        assert any("marked unsafe" in reason for reason in unsafe["skipped"]), unsafe
        assert target_state(stack)["state"] == "unsafe" and rows(stack.target_db) == 1
        again = _replay(stack)
        assert not again["writes"] and rows(stack.target_db) == 1  # no further write leaves
