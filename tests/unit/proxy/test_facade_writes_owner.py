"""One owner per write: a write on a feature's route is served only by the side the table names in
`writes_owner`, whatever the state; reads follow the state. Real addons in a mitmproxy test master."""
from __future__ import annotations

import json

import pytest
from facade_harness import table_text  # fixture module of this folder

from proxy.cohort import bucket, in_target


def _use(facade, state: str, owner: str, percent: float = 0) -> None:
    facade.write(table_text(state, percent, owner))
    facade.state.reload()


@pytest.mark.parametrize("state", ["legacy", "shadow", "canary", "new"])
def test_legacy_owned_writes_go_to_legacy_in_every_state_but_retired(facade, state):
    _use(facade, state, "legacy", 100 if state == "canary" else 0)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        f = facade.send(facade.flow(method, content=b"{}"))
        assert facade.served_by(f) == "legacy", method
        decision = f.metadata["strangler"]
        # only a write the state would have sent to the service is marked as moved by its owner
        assert decision.fallback == ("writes_owner" if state in ("canary", "new") else None)
        assert decision.shadow_to == ("svc" if state == "shadow" else None)  # dry-run copy as before
    reads = {facade.served_by(facade.send(facade.flow(m))) for m in ("GET", "HEAD", "OPTIONS")}
    assert reads == ({"legacy"} if state in ("legacy", "shadow") else {"svc"})


def test_retired_sends_writes_to_the_target_even_if_the_table_says_legacy(facade):
    _use(facade, "retired", "legacy")
    f = facade.send(facade.flow("POST", content=b"{}"))
    assert facade.served_by(f) == "svc" and f.metadata["strangler"].fallback is None


@pytest.mark.parametrize("state", ["legacy", "shadow", "canary", "new", "retired"])
def test_service_owned_writes_go_to_the_target_in_every_state(facade, state):
    _use(facade, state, "service", 1 if state == "canary" else 0)
    f = facade.send(facade.flow("PUT", content=b"{}"))
    assert facade.served_by(f) == "svc"
    decision = f.metadata["strangler"]
    assert decision.shadow_to is None  # never a second copy to the owner, never a write to legacy
    assert decision.fallback == ("writes_owner" if state in ("legacy", "shadow", "canary") else None)
    if state in ("legacy", "shadow"):
        assert facade.served_by(facade.send(facade.flow())) == "legacy"  # reads still follow the state


def test_canary_writes_ignore_the_cohort(facade):
    _use(facade, "canary", "legacy", 50)
    users = [f"user-{i}" for i in range(40)]
    assert any(in_target(bucket("h:" + u), 50) for u in users)  # some users' reads do go to the service
    for user in users:
        post = facade.send(facade.flow("POST", headers={"X-Strangler-Cohort": user}, content=b"{}"))
        assert facade.served_by(post) == "legacy"


def test_owner_breaker_open_refuses_writes_instead_of_sending_them_to_the_other_side(facade):
    _use(facade, "legacy", "service")
    for _ in range(2):
        facade.fail(facade.send(facade.flow("POST", content=b"{}")))
    assert facade.state.current.breakers["svc"].state.name == "OPEN"
    post = facade.answer(facade.send(facade.flow("POST", content=b"{}")))
    assert post.response.status_code == 503
    body = json.loads(post.response.content)
    assert body["upstream"] == "svc" and "writes are never redirected" in body["message"]
    assert facade.served_by(facade.send(facade.flow())) == "legacy"  # reads (state legacy) unaffected


def test_an_unknown_writes_owner_is_refused_with_its_line(facade, tmp_path):
    from proxy.table import TableError, load_table

    bad = tmp_path / "bad.yaml"
    bad.write_text(table_text("new", owner="servcie"))
    with pytest.raises(TableError) as info:
        load_table(bad)
    assert info.value.line == 12 and "unknown writes owner 'servcie' (did you mean 'service'?)" in str(info.value)
    assert "Fix: use one of: legacy, service" in str(info.value)
