"""Every command fails the same way: one "error: …" line on stderr and the error's exit code."""
from __future__ import annotations

import typer
from typer.testing import CliRunner

from strangler.cli.app import KitGroup
from strangler.cli.output import FAILED, fail, next_step


def test_a_command_error_is_one_line_on_stderr_with_its_code() -> None:
    app = typer.Typer(cls=KitGroup)

    @app.command()
    def broken(code: int = 2) -> None:
        raise fail("no feature 'ordres' (did you mean 'orders'?). Fix: use one of: orders", code)

    @app.command()
    def fine() -> None:
        next_step("strangler routes flip orders shadow")

    runner = CliRunner()
    result = runner.invoke(app, ["broken"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "error: no feature 'ordres' (did you mean 'orders'?). Fix: use one of: orders\n"
    assert runner.invoke(app, ["broken", "--code", str(FAILED)]).exit_code == FAILED
    ok = runner.invoke(app, ["fine"])
    assert ok.exit_code == 0 and ok.stdout == "Next: strangler routes flip orders shadow\n"
