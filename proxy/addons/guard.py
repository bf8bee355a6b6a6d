"""Refusals that keep the façade from ever being an open proxy, plus the request body size limit.

Layers of defence, each enough on its own for its case:
- startup: only `reverse:` modes with an http(s) destination are accepted (regular/socks/transparent modes
  would turn mitmdump into a forward proxy), so the process refuses to run otherwise;
- CONNECT (any mode) is answered 403 by the façade;
- absolute-form requests (`GET http://other/ HTTP/1.1`) naming a host that is not a table upstream get 403;
- last line: `server_connect` vetoes any outgoing connection whose address is not an upstream of the
  current table, whatever an addon or mitmproxy itself decided.
"""
from __future__ import annotations

import time

from mitmproxy import ctx, exceptions, http
from mitmproxy.net.http import url
from mitmproxy.proxy import mode_specs, server_hooks

from proxy.addons import headers as hdr
from proxy.addons.errors import file_protocol_error, forget, error_body, json_error
from proxy.addons.routing import META, Decision
from proxy.addons.state import FacadeState


class Guard:
    def __init__(self, state: FacadeState):
        self.state = state

    def configure(self, updated: set[str]) -> None:
        if "onboarding" in updated and ctx.options.onboarding:
            # mitmproxy's onboarding app answers any request whose Host is mitm.it (and hands out its CA
            # certificate): the Host header must never choose what answers, so the façade always turns it off
            ctx.options.update(onboarding=False)
        if "mode" in updated:
            for spec in ctx.options.mode:
                try:
                    mode = mode_specs.ProxyMode.parse(spec)
                except ValueError as exc:
                    raise exceptions.OptionsError(f"invalid mode {spec!r}: {exc}") from None
                if not isinstance(mode, mode_specs.ReverseMode) or mode.scheme not in ("http", "https"):
                    raise exceptions.OptionsError(
                        f"the strangler façade only runs as a reverse proxy, not in mode {spec!r} (that would "
                        "make it a forward/open proxy). Use --mode reverse:http://LEGACY_HOST:PORT@LISTEN_PORT")

    def _refuse(self, flow: http.HTTPFlow, status: int, code: str, message: str, reason: str) -> None:
        decision = flow.metadata.get(META)
        if decision is None:
            decision = flow.metadata[META] = Decision(hdr.request_id(flow.request.headers), time.perf_counter())
        decision.state = "refused"
        self.state.metrics.refusals.labels(reason).inc()
        flow.response = json_error(status, code, message, decision.request_id)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._refuse(flow, 403, "connect_refused", "CONNECT is not allowed: this is a reverse proxy, not a "
                     "forward proxy", "connect")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        snap = self.state.current
        if req.method == "CONNECT":
            return  # handled in http_connect / by mitmproxy's reverse-mode validation
        if req.authority and not (req.is_http2 or req.is_http3):
            try:
                host, port = url.parse_authority(req.authority, check=False)
            except ValueError:
                host, port = req.authority, None
            port = port or (443 if req.scheme == "https" else 80)
            if snap is None or (str(host).lower(), port) not in snap.allowed:
                self._refuse(flow, 403, "proxy_refused",
                             f"absolute-form request for {req.authority!r} refused: this façade only serves its "
                             "own routes", "absolute_form")
                return
        limit = snap.table.limits.max_body_bytes if snap else None
        length = req.headers.get("content-length")
        if limit is not None and length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = False  # mitmproxy rejects malformed lengths itself
            if too_big:
                self._too_large(flow, limit)

    def request(self, flow: http.HTTPFlow) -> None:
        snap = self.state.current
        if flow.response is None and snap is not None:
            content = flow.request.raw_content
            if content is not None and len(content) > snap.table.limits.max_body_bytes:
                self._too_large(flow, snap.table.limits.max_body_bytes)

    def _too_large(self, flow: http.HTTPFlow, limit: int) -> None:
        self._refuse(flow, 413, "body_too_large", f"request body exceeds the façade limit of {limit} bytes "
                     "(limits.max_body_bytes in the route table)", "body_too_large")

    def error(self, flow: http.HTTPFlow) -> None:
        """Protocol errors before routing (e.g. CONNECT in reverse mode) get a JSON body too."""
        if flow.metadata.get(META) is None and flow.request is not None and flow.request.method == "CONNECT":
            self.state.metrics.refusals.labels("connect").inc()
            file_protocol_error(flow.client_conn.id, 403, error_body(
                403, "connect_refused", "CONNECT is not allowed: this is a reverse proxy, not a forward proxy"))

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        snap = self.state.current
        address = data.server.address
        if address is None or snap is None or (str(address[0]).lower(), address[1]) not in snap.allowed:
            data.server.error = "refused by the strangler façade: not an upstream of the route table"

    def client_disconnected(self, client) -> None:
        forget(client.id)
