"""The walkthrough's bash session remembers where a block left the shell, so a guide that `cd`s into the
project it created is torn down there (strangler.walkthrough.runner.teardown)."""
from __future__ import annotations

import os
from pathlib import Path

from strangler.walkthrough.session import BashSession


def test_session_follows_cd_between_blocks_and_keeps_exports(tmp_path: Path) -> None:
    (tmp_path / "my project").mkdir()
    session = BashSession({"PATH": os.environ["PATH"]}, tmp_path)
    try:
        first = session.run('export GREETING=hi\ncd "my project"\n', 30)
        assert first.status == 0 and session.cwd == tmp_path / "my project"
        second = session.run("echo $GREETING; pwd; false; true\n", 30)
        assert second.status == 1  # the first failing command's status, although the block ends with `true`
        assert second.output.splitlines() == ["hi", str(tmp_path / "my project")]
        assert session.cwd == tmp_path / "my project"
    finally:
        session.close()
