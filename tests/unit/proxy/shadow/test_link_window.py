"""The link's intake window (proxy/shadow/link.py): what the façade hands a worker goes in few, large writes.

A real child process reads the frames and answers, per frame, how many messages it held; so the test sees
the writes as the worker does. Windows are an hour long or zero: nothing here depends on the machine's speed."""
from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest

from proxy.shadow.link import WorkerLink

CHILD = textwrap.dedent("""
    import pickle, sys
    from proxy.shadow.worker import HEADER, frame
    while head := sys.stdin.buffer.read(HEADER.size):
        (size,) = HEADER.unpack(head)
        batch = pickle.loads(sys.stdin.buffer.read(size))
        sys.stdout.buffer.write(frame([("frame", [m[1] for m in batch])]))
        sys.stdout.buffer.flush()
""")


class CountingLink(WorkerLink):
    MODULE = "count_frames"
    NAME = "frame counter"


class PatientLink(CountingLink):
    HOLD_FIRST = True  # as the recording writer's link: nothing it carries is urgent


@pytest.fixture
def child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "count_frames.py").write_text(CHILD)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the link adds the project's root to it


def _run(window_s: float, max_batch: int, script, link_class: type[WorkerLink] = CountingLink) -> list[list[int]]:
    frames: list[list[int]] = []

    def events(batch: list[Any]) -> None:
        frames.extend(numbers for _, numbers in batch)

    async def main() -> None:
        link = link_class("unused.db", events, lambda: [], lambda: None, window_s=window_s, max_batch=max_batch)
        await link.start()
        try:
            await script(link, frames)
        finally:
            await link.stop()

    asyncio.run(asyncio.wait_for(main(), 60))
    return frames


async def _until(frames: list, n: int) -> None:
    while len(frames) < n:
        await asyncio.sleep(0.01)


@pytest.mark.usefixtures("child")
def test_within_the_window_messages_wait_and_go_together_a_full_batch_at_once() -> None:
    async def script(link: WorkerLink, frames: list) -> None:
        assert link.send(("m", 1))
        await _until(frames, 1)  # the first after a quiet spell: at once
        for i in (2, 3, 4):
            assert link.send(("m", i))
        for _ in range(20):
            await asyncio.sleep(0)
        assert [m[1] for m in link._batch] == [2, 3, 4]  # the window (an hour) is open: held, not written
        assert link.send(("m", 5))  # the batch is full (4): written at once
        await _until(frames, 2)
        assert link.send(("m", 6))  # waits for the window again ...
        assert link.send(("m", 7), at_once=True)  # ... unless one must go at once: it takes the waiting along
        await _until(frames, 3)
        assert link.send(("m", 8))  # waits; stop() writes what is left

    assert _run(3600.0, 4, script) == [[1], [2, 3, 4, 5], [6, 7], [8]]


@pytest.mark.usefixtures("child")
def test_without_a_window_each_loop_iteration_writes_once() -> None:
    async def script(link: WorkerLink, frames: list) -> None:
        for i in (1, 2, 3):
            assert link.send(("m", i))  # the same iteration: one write
        await _until(frames, 1)
        assert link.send(("m", 4))
        await _until(frames, 2)

    assert _run(0.0, 256, script) == [[1, 2, 3], [4]]



@pytest.mark.usefixtures("child")
def test_a_patient_link_holds_the_first_message_too() -> None:
    async def script(link: WorkerLink, frames: list) -> None:
        assert link.send(("m", 1))
        for _ in range(20):
            await asyncio.sleep(0)
        assert [m[1] for m in link._batch] == [1]  # quiet before, still held: the window runs from it
        assert link.send(("m", 2))  # full: written at once
        await _until(frames, 1)

    assert _run(3600.0, 2, script, PatientLink) == [[1, 2]]
