"""Loading and hot reload: startup errors are OptionsError; a bad edit keeps the last good table serving."""
from __future__ import annotations

import asyncio

import pytest
from facade_harness import Facade, table_text
from mitmproxy import exceptions, hooks
from mitmproxy.test import taddons


def test_startup_with_bad_table_fails_with_file_line_and_fix(tmp_path):
    bad = tmp_path / "routes.yaml"
    bad.write_text(table_text().replace("default: legacy", "default: nowhere"))
    with taddons.context() as tctx, pytest.raises(exceptions.OptionsError) as err:
        Facade(tctx, bad)
    assert "routes.yaml:" in str(err.value) and "Fix:" in str(err.value) and "nowhere" in str(err.value)


def test_startup_without_table_option_says_how(tmp_path):
    from proxy.addons.state import FacadeState

    with taddons.context() as tctx, pytest.raises(exceptions.OptionsError, match="strangler_routes="):
        state = FacadeState()
        tctx.master.addons.register(state)
        tctx.master.addons.invoke_addon_sync(state, hooks.ConfigureHook({"strangler_routes"}))


def test_bad_edit_keeps_last_good_table_and_is_counted(facade):
    facade.write(table_text("new"))
    assert facade.state.reload()
    version = facade.state.current.version
    facade.write(table_text("nonsense-state"))
    assert not facade.state.reload()
    assert facade.state.current.version == version
    assert "nonsense-state" in facade.state.last_error
    assert facade.served_by(facade.send(facade.flow())) == "svc"
    assert facade.state.reload() is False  # same bad content: not counted twice
    assert facade.state.metrics.reload_errors._value.get() == 1
    facade.write(table_text("legacy"))
    assert facade.state.reload() and facade.state.current.version == version + 1
    assert facade.served_by(facade.send(facade.flow())) == "legacy"


def test_reverting_a_bad_edit_to_the_identical_table_clears_the_error(facade):
    facade.write(table_text("new"))
    assert facade.state.reload()
    version = facade.state.current.version
    facade.write(table_text("nonsense-state"))
    assert not facade.state.reload() and facade.state.last_error
    facade.write(table_text("new"))  # byte-identical to the table in force: nothing to swap
    assert facade.state.reload()
    assert facade.state.last_error is None and facade.state.current.version == version
    facade.write(table_text("nonsense-state"))  # the same bad edit again is reported again
    assert not facade.state.reload() and "nonsense-state" in facade.state.last_error


def test_breaker_state_survives_reload_of_same_upstream(facade):
    facade.write(table_text("new"))
    facade.state.reload()
    for _ in range(2):
        facade.fail(facade.send(facade.flow()))
    facade.write(table_text("new") + "\n# a comment edit\n")
    facade.state.reload()
    assert facade.state.current.breakers["svc"].state.name == "OPEN"


def test_inflight_request_keeps_its_snapshot(facade):
    old = facade.state.current
    facade.write(table_text("new"))
    facade.state.reload()
    assert old.table.features["items"].state.value == "legacy"
    assert facade.state.current is not old


def _with_watch(routes, steps) -> None:
    """Run `await steps(tctx, facade)` with the façade's table watch running (50 ms polls), bounded to 10 s."""
    async def scenario():
        async with asyncio.timeout(10):
            with taddons.context() as tctx:
                fac = Facade(tctx, routes)
                tctx.options.strangler_reload_ms = 50
                fac.state.running()
                try:
                    await steps(tctx, fac)
                finally:
                    await fac.state.done()

    asyncio.run(scenario())


def test_poll_task_picks_up_edits(routes):
    async def steps(tctx, fac):
        routes.write_text(table_text("new"))
        while fac.state.current.version == 1:
            await asyncio.sleep(0.02)
        assert fac.state.current.table.features["items"].state.value == "new"

    _with_watch(routes, steps)


def test_an_unreadable_table_is_reported_and_the_last_good_one_keeps_serving(facade):
    version = facade.state.current.version
    text = facade.routes.read_text()
    facade.routes.unlink()
    assert facade.state.reload() is False
    assert "cannot read route table" in facade.state.last_error and facade.state.current.version == version
    assert facade.served_by(facade.send(facade.flow())) == "legacy"
    facade.routes.write_text(text)  # back as it was: nothing to swap, nothing wrong any more
    assert facade.state.reload() and facade.state.last_error is None and facade.state.current.version == version


def test_a_store_option_that_is_not_a_postgresql_url_is_refused(tmp_path, monkeypatch):
    from proxy.addons.state import FacadeState

    monkeypatch.delenv("STRANGLER_STORE_URL", raising=False)
    with taddons.context() as tctx, pytest.raises(exceptions.OptionsError, match="not a PostgreSQL URL"):
        state = FacadeState()
        tctx.master.addons.register(state)
        tctx.options.strangler_store = "mysql://u@127.0.0.1/db"
        tctx.master.addons.invoke_addon_sync(state, hooks.ConfigureHook({"strangler_store"}))


def test_the_watch_follows_a_table_file_changed_while_running(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(table_text("legacy"))
    second.write_text(table_text("legacy"))

    async def steps(tctx, fac):
        tctx.options.update(strangler_routes=str(second))
        assert str(fac.state.routes_path) == str(second)
        second.write_text(table_text("new"))
        while fac.state.current.table.features["items"].state.value != "new":
            await asyncio.sleep(0.02)

    _with_watch(first, steps)
