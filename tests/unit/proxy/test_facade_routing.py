"""State routing through the real addons in a mitmproxy test master: where each request goes and why."""
from __future__ import annotations

import json

import pytest
from facade_harness import table_text  # fixture module of this folder

from proxy.cohort import bucket, in_target


def test_unmatched_and_legacy_state_go_to_default(facade):
    assert facade.served_by(facade.send(facade.flow(path="/elsewhere"))) == "legacy"
    f = facade.send(facade.flow())
    assert (f.request.host, f.request.port) == ("127.0.0.1", 5000)
    assert facade.served_by(f) == "legacy"
    assert f.response.headers["X-Strangler-Feature"] == "items"


def test_new_goes_to_target_and_rewrites_host(facade):
    facade.write(table_text("new"))
    facade.state.reload()
    f = facade.send(facade.flow(headers={"Host": "evil.example:80"}))
    assert (f.request.scheme, f.request.host, f.request.port) == ("http", "127.0.0.1", 8101)
    assert f.request.headers["Host"] == "127.0.0.1:8101"
    assert f.request.headers["X-Forwarded-Host"] == "evil.example:80"
    assert facade.served_by(f) == "svc"


def test_shadow_serves_legacy_and_marks_the_copy_for_the_shadow_addon(facade):
    facade.write(table_text("shadow"))
    facade.state.reload()
    f = facade.send(facade.flow())
    decision = f.metadata["strangler"]
    assert decision.shadow_to == "svc" and decision.upstream == "legacy"
    assert facade.served_by(f) == "legacy"


def test_canary_follows_the_cohort_and_is_stable(facade):
    facade.write(table_text("canary", 40))
    facade.state.reload()
    for user in (f"user-{i}" for i in range(40)):
        expected = "svc" if in_target(bucket("h:" + user), 40) else "legacy"
        sides = {facade.served_by(facade.send(facade.flow(headers={"X-Strangler-Cohort": user})))
                 for _ in range(3)}
        assert sides == {expected}


def test_same_user_same_side_for_every_feature_at_same_percent(facade):
    star = '\n    routes:\n      - {methods: ["*"]'
    text = table_text("canary", 40).replace("state: legacy" + star, "state: canary\n    canary_percent: 40" + star)
    facade.write(text)
    facade.state.reload()
    assert facade.state.current.table.features["files"].state.value == "canary"
    for i in range(30):
        h = {"X-Strangler-Cohort": f"u{i}"}
        a = facade.served_by(facade.send(facade.flow(path="/api/items/1", headers=h)))
        b = facade.served_by(facade.send(facade.flow(path="/files/x/y", headers=h)))
        assert a == b


@pytest.mark.parametrize("state", ["new", "retired"])
def test_open_breaker_gets_fallback_for_reads_and_503_for_writes(facade, state):
    facade.write(table_text(state, owner="service"))
    facade.state.reload()
    for _ in range(2):
        facade.fail(facade.send(facade.flow()))
    get = facade.send(facade.flow())
    post = facade.send(facade.flow("POST", content=b"{}"))
    if state == "new":
        assert facade.served_by(get) == "legacy"
        assert get.metadata["strangler"].fallback == "breaker_open"
    else:
        assert get.response.status_code == 503  # retired: no fallback at all
    facade.answer(post)  # the response hook runs for façade-made answers too
    assert post.response.status_code == 503
    body = json.loads(post.response.content)
    assert body["error"] == "upstream_unavailable" and body["upstream"] == "svc"
    assert post.response.headers["X-Served-By"] == "facade"


def test_upstream_5xx_gateway_errors_open_the_breaker_but_500_does_not(facade):
    facade.write(table_text("new"))
    facade.state.reload()
    for _ in range(3):
        facade.answer(facade.send(facade.flow()), status=500)
    assert facade.state.current.breakers["svc"].state.name == "CLOSED"
    for _ in range(2):
        facade.answer(facade.send(facade.flow()), status=503)
    assert facade.state.current.breakers["svc"].state.name == "OPEN"


def test_client_disconnect_is_not_an_upstream_failure(facade):
    facade.write(table_text("new"))
    facade.state.reload()
    for _ in range(3):
        facade.fail(facade.send(facade.flow()), "Client disconnected.")
    assert facade.state.current.breakers["svc"].state.name == "CLOSED"


def test_request_and_trace_headers(facade):
    f = facade.send(facade.flow(headers={"X-Request-ID": "abc-123-def", "X-Forwarded-For": "6.6.6.6",
                                         "Forwarded": "for=6.6.6.6", "X-Forwarded-Proto": "https",
                                         "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}))
    h = f.request.headers
    assert h["X-Request-ID"] == "abc-123-def"
    assert h["X-Forwarded-For"] == "127.0.0.1" and h["X-Forwarded-Proto"] == "http" and "Forwarded" not in h
    version, trace, span, flags = h["traceparent"].split("-")
    assert (version, trace, flags) == ("00", "0af7651916cd43dd8448eb211c80319c", "01")
    assert span != "b7ad6b7169203331"
    facade.answer(f)
    assert f.response.headers["X-Request-ID"] == "abc-123-def"


def test_insane_request_id_and_bad_traceparent_are_replaced(facade):
    f = facade.send(facade.flow(headers={"X-Request-ID": "x\" injected", "traceparent": "garbage",
                                         "tracestate": "a=b"}))
    assert f.request.headers["X-Request-ID"] != "x\" injected" and len(f.request.headers["X-Request-ID"]) == 32
    assert len(f.request.headers["traceparent"].split("-")) == 4 and "tracestate" not in f.request.headers


def test_hop_by_hop_headers_are_stripped_both_ways(facade):
    f = facade.send(facade.flow(headers={"Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1",
                                         "Keep-Alive": "timeout=5", "Proxy-Authorization": "Basic eA==",
                                         "Upgrade": "h2c", "TE": "trailers", "X-Normal": "yes"}))
    for name in ("Connection", "X-Secret-Hop", "Keep-Alive", "Proxy-Authorization", "Upgrade", "TE"):
        assert name not in f.request.headers, name
    assert f.request.headers["X-Normal"] == "yes"
    facade.answer(f, headers={"Connection": "close, X-Hop", "X-Hop": "1", "Keep-Alive": "x",
                              "Proxy-Authenticate": "Basic"})
    for name in ("Connection", "X-Hop", "Keep-Alive", "Proxy-Authenticate"):
        assert name not in f.response.headers, name


def test_metrics_and_access_log(facade, tmp_path):
    log_path = tmp_path / "access.jsonl"
    facade.tctx.configure(facade.telemetry, strangler_access_log=str(log_path))
    facade.answer(facade.send(facade.flow(headers={"X-Request-ID": "req-00000001"})))
    facade.telemetry._close()
    line = json.loads(log_path.read_text().splitlines()[-1])
    assert line["request_id"] == "req-00000001" and line["feature"] == "items" and line["status"] == 200
    assert set(line) >= {"ts", "method", "path", "state", "upstream", "duration_ms", "client"}
    text = facade.state.metrics.render().decode()
    assert 'strangler_requests_total{feature="items",state="legacy",status_class="2xx",upstream="legacy"} 1.0' \
        in text
