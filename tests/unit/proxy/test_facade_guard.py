"""Open-proxy refusals and the body limit: nothing leaves the façade for a host that is not an upstream."""
from __future__ import annotations

import json

import pytest
from mitmproxy import exceptions
from mitmproxy.proxy import server_hooks
from mitmproxy.proxy.layers.http import HttpRequestHeadersHook
from mitmproxy.test import tflow

from proxy.addons import errors
from proxy.addons.errors import ANSWERED_META


def test_connect_is_refused(facade):
    f = facade.flow("CONNECT", "")
    facade.guard.http_connect(f)
    assert f.response.status_code == 403 and json.loads(f.response.content)["error"] == "connect_refused"


def test_absolute_form_to_a_foreign_host_is_refused_and_never_addressed(facade):
    f = facade.flow()
    f.request.authority = "example.com:80"
    facade.send(f)
    assert f.response.status_code == 403
    assert f.metadata["strangler"].forwarded is False


def test_absolute_form_to_an_upstream_is_routed_normally_in_origin_form(facade):
    f = facade.flow()
    f.request.authority = "127.0.0.1:8101"
    facade.send(f)
    assert f.response is None and f.request.authority == ""
    assert (f.request.host, f.request.port) == ("127.0.0.1", 5000)  # routing still decides, not the authority


def test_server_connect_vetoes_addresses_outside_the_table(facade):
    for address, allowed in ((("127.0.0.1", 5000), True), (("127.0.0.1", 8101), True),
                             (("127.0.0.1", 9999), False), (("example.com", 80), False)):
        conn = tflow.tserver_conn()
        conn.address = address
        facade.guard.server_connect(server_hooks.ServerConnectionHookData(server=conn, client=tflow.tclient_conn()))
        assert (conn.error is None) is allowed, address


@pytest.mark.parametrize("spec", ["regular", "socks5", "upstream:http://127.0.0.1:1", "transparent",
                                  "reverse:tcp://127.0.0.1:5000"])
def test_non_reverse_modes_are_refused(facade, spec):
    with pytest.raises(exceptions.OptionsError, match="only runs as a reverse proxy"):
        facade.tctx.configure(facade.guard, mode=[spec])


def test_reverse_mode_is_accepted(facade):
    facade.tctx.configure(facade.guard, mode=["reverse:http://127.0.0.1:5000@8080"])


def test_body_limit_by_declared_length_and_by_actual_body(facade):
    f = facade.flow("POST", headers={"Content-Length": "101"})
    facade.trigger(HttpRequestHeadersHook(f))  # refused before the body is read: answered at once, flow killed
    assert f.response is None and f.killable is False and f.metadata[ANSWERED_META] == 413
    status, body, _, linger = errors._pending.pop(f.client_conn.id)
    assert status == 413 and linger and "Fix:" in json.loads(body)["message"]
    f = facade.flow("POST", content=b"x" * 101)
    del f.request.headers["content-length"]
    facade.send(f)
    assert f.response.status_code == 413 and json.loads(f.response.content)["error"] == "body_too_large"
    ok = facade.send(facade.flow("POST", content=b"x" * 100))
    assert ok.response is None


@pytest.mark.parametrize("fields", [((b"X-A", b"a\r\n Host: evil"),),  # obs-fold, as mitmproxy joins it
                                    ((b"X-A", b"a\rHost: evil"),),  # bare CR
                                    ((b"X-A", b"a\x00b"),),
                                    ((b"X-A ", b"a"),),  # space before the colon
                                    ((b"X\rA", b"a"),)])
def test_malformed_header_lines_are_refused_before_routing(facade, fields):
    f = facade.flow()
    f.request.headers.fields = f.request.headers.fields + fields
    facade.trigger(HttpRequestHeadersHook(f))
    assert f.metadata[ANSWERED_META] == 400 and f.metadata["strangler"].forwarded is False
    status, body, _, _linger = errors._pending.pop(f.client_conn.id)
    assert status == 400 and json.loads(body)["error"] == "bad_request" and "Fix:" in json.loads(body)["message"]


def test_well_formed_headers_pass(facade):
    f = facade.flow(headers={"X-Weird_Name.v2": "a:b, c\td; é".encode().decode("latin-1")})
    facade.trigger(HttpRequestHeadersHook(f))
    assert ANSWERED_META not in f.metadata and f.response is None
