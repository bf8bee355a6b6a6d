"""The walkthrough's checks and progress: expect-ratio (a tolerance said out loud), the document's own step
numbering, live lines while a block runs, and `strangler demo --var-dir X` keeping its transcript in X."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from strangler.procs import free_port
from strangler.stack import load_stack, port_env_name
from strangler.walkthrough.document import DocumentError, Step, parse_document
from strangler.walkthrough.runner import check, run_walkthrough

ROOT = Path(__file__).resolve().parents[2]
ROW = r"catalog\s+│\s+(?P<whole>\d+)\s+│\s+\d+\s+│\s+(?P<part>\d+)\s+│"
DOC = """\
# A tiny walkthrough

## 1. Wait a little

```bash
echo starting; sleep 2.5; echo waited
```
<!-- expect: ^waited$ -->

## 2. Two blocks

```bash
echo "catalog │ 200 │ 10 │ 3 │ 0 │ equal"
```
<!-- expect-ratio: ROW <= 0.02 -->

```yaml
not: run
```

```bash
echo second
```
<!-- expect: ^second$ -->
""".replace("ROW", ROW)


def _doc(tmp_path: Path, text: str = DOC) -> Path:
    path = tmp_path / "plan.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_progress_counts_the_documents_sections_not_its_blocks(tmp_path: Path) -> None:
    steps = parse_document(_doc(tmp_path))
    assert [s.progress for s in steps] == ["1/2 Wait a little", "2/2 Two blocks (1 of 2)", "2/2 Two blocks (2 of 2)"]
    assert [s.number for s in steps] == [1, 2, 3]
    assert steps[1].expect_ratio == [(ROW, 0.02)]


def test_the_plans_numbering_is_what_the_demo_shows() -> None:
    steps = parse_document(ROOT / "migration_plan.md")
    orders = [s.progress for s in steps if s.section == "9"]
    assert orders and all(p.startswith(f"9/{steps[-1].section} ") for p in orders)


@pytest.mark.parametrize(("errors", "ok"), [(0, True), (4, True), (5, False)])
def test_expect_ratio_holds_up_to_its_limit(errors: int, ok: bool) -> None:
    step = Step(1, "t", 1, "", expect_ratio=[(ROW, 0.02)])
    evidence, problems = check(step, 0, f"header\ncatalog │ 200 │ 10 │ {errors} │ 0 │ equal\n")
    assert (not problems) is ok, problems
    if ok:
        assert evidence == [f"catalog │ 200 │ 10 │ {errors} │ 0 │ equal  [{errors}/200 = {errors / 200:.1%} ≤ 2.0%]"]
    else:
        assert problems == [f"5/200 = 2.5% is over the tolerated 2.0% (/{ROW}/): catalog │ 200 │ 10 │ 5 │ 0 │ equal"]


def test_expect_ratio_not_found_and_malformed() -> None:
    _, problems = check(Step(1, "t", 1, "", expect_ratio=[(ROW, 0.02)]), 0, "nothing here\n")
    assert problems == [f"expected output matching /{ROW}/ — not found"]


@pytest.mark.parametrize("directive", ["<!-- expect-ratio: (?P<part>\\d+) of (?P<whole>\\d+) -->",
                                       "<!-- expect-ratio: (\\d+) of (\\d+) <= 0.1 -->"])
def test_malformed_expect_ratio_is_refused_with_its_fix(tmp_path: Path, directive: str) -> None:
    with pytest.raises(DocumentError, match="Fix:"):
        parse_document(_doc(tmp_path, "## 1. x\n\n```bash\ntrue\n```\n" + directive + "\n"))


def test_live_lines_while_a_block_runs(tmp_path: Path) -> None:
    ticks: list[tuple[str, float, str]] = []
    result = run_walkthrough(_doc(tmp_path), root=tmp_path, env={"STRANGLER_VAR_DIR": str(tmp_path / "var")},
                             on_tick=lambda step, elapsed, last: ticks.append((step.progress, elapsed, last)),
                             tick_s=1.0)
    assert result.ok, result.failure_report()
    first = [t for t in ticks if t[0] == "1/2 Wait a little"]
    assert len(first) >= 2 and all(elapsed >= 1.0 for _, elapsed, _ in first)
    assert first[0][2] == "starting"   # the last line the block printed so far


def test_demo_shows_the_plans_numbering_and_keeps_its_transcript_in_var_dir(tmp_path: Path) -> None:
    env = {**os.environ, "STRANGLER_ADMIN_PORT": str(free_port()), "COLUMNS": "200", "NO_COLOR": "1"}
    for name in load_stack(ROOT / "config" / "stack.yaml").config.processes:
        env[port_env_name(name)] = str(free_port())  # busy ports of another stack must not refuse the demo
    var_dir = tmp_path / "demo var"
    done = subprocess.run([sys.executable, "-m", "strangler", "demo", "--document", str(_doc(tmp_path)),
                           "--var-dir", str(var_dir), "--tick", "1"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "1/2 Wait a little" in out and "2/2 Two blocks (2 of 2)" in out
    assert "… 1s in step 1 — starting" in out
    assert "[3/200 = 1.5% ≤ 2.0%]" in out
    transcript = var_dir / "transcript.log"
    assert transcript.is_file() and "===== step 2/2 Two blocks (2 of 2)" in transcript.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob("transcript*"))
    assert "PASSED: 3/3 blocks of plan.md" in out
