"""Refusals that keep the façade from ever being an open proxy, plus the request body size limit.

Layers of defence, each enough on its own for its case:
- startup: only `reverse:` modes with an http(s) destination are accepted (regular/socks/transparent modes
  would turn mitmdump into a forward proxy), so the process refuses to run otherwise;
- CONNECT (any mode) is answered 403 by the façade;
- absolute-form requests (`GET http://other/ HTTP/1.1`) naming a host that is not a table upstream get 403;
- last line: `server_connect` vetoes any outgoing connection whose address is not an upstream of the
  current table, whatever an addon or mitmproxy itself decided.

Protocol options live here too. TLS: `strangler_tls_cert` + `strangler_tls_key` (PEM) become mitmproxy's
`certs` entry for every name, so a client that starts TLS gets the user's certificate (upstreams stay plain
http on loopback). Streaming: bodies above `strangler_stream_bytes` are streamed, not buffered (mitmproxy's
`stream_large_bodies`). A streamed request's headers leave for the upstream straight after the
`requestheaders` hook — before the `request` hook where the router normally addresses a request — so the
guard routes it there (chunked uploads are streamed from the start for the same reason, counted against
limits.max_body_bytes as they pass); a streamed or unknown-length response gets the façade's response headers
in `responseheaders` for the same reason. Streamed requests are never shadowed (no body to copy).
A refusal decided in `requestheaders` while a body is still to come — a Content-Length over the limit, or any
refusal of a body mitmproxy streams — is answered at once without reading it (errors.answer_at_once).

Malformed header lines: mitmproxy's HTTP/1 reader joins an obs-fold continuation into the previous value
("a\r\n Host: evil"), keeps a bare CR inside a value and a space before the colon inside a name, and would
forward them as read — for the upstream's parser to take as a second header. RFC 9112 §5.1/§5.2/§2.2 say
reject: the guard answers 400 itself, first thing in `requestheaders` (before anything is addressed or
streamed), and closes the connection. One regex pass over each name and value: a few µs per request.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
import time
from pathlib import Path

from mitmproxy import ctx, exceptions, http
from mitmproxy.net.http import url
from mitmproxy.proxy import mode_specs, server_hooks
from mitmproxy.utils import human
from prometheus_client import Counter

from proxy.addons import headers as hdr
from proxy.addons.errors import ANSWERED_META, answer_at_once, error_body, file_protocol_error, forget, json_error
from proxy.addons.routing import META, Decision, Router
from proxy.addons.state import FacadeState

log = logging.getLogger("strangler.facade")
STREAMED_META = "strangler_streamed"
_NOT_TOKEN = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")  # a field name is an RFC 9110 token
_LINE_BREAK = re.compile(rb"[\r\n\x00]")  # never inside a field value (RFC 9110 §5.5)


class Guard:
    def __init__(self, state: FacadeState):
        self.state = state
        self._router = Router(state)  # stateless: used to address streamed requests before their headers leave
        self._tls_dir: str | None = None
        self._stream_bytes: int | None = None
        self.streamed = Counter("strangler_streamed_total", "Messages streamed instead of buffered "
                                "(never shadowed).", ["direction"], registry=state.metrics.registry)

    def load(self, loader) -> None:
        loader.add_option("strangler_tls_cert", str, "",
                          "PEM certificate (chain) the façade presents to clients that speak TLS.")
        loader.add_option("strangler_tls_key", str, "", "PEM private key of strangler_tls_cert.")
        loader.add_option("strangler_stream_bytes", str, "4m",
                          "Stream (not buffer) request/response bodies larger than this (e.g. 512k, 4m); "
                          "empty or 0 disables. Streamed requests are not shadowed.")

    def done(self) -> None:
        if self._tls_dir is not None:
            for name in os.listdir(self._tls_dir):
                os.unlink(os.path.join(self._tls_dir, name))
            os.rmdir(self._tls_dir)
            self._tls_dir = None

    def _configure_tls(self) -> None:
        cert, key = ctx.options.strangler_tls_cert.strip(), ctx.options.strangler_tls_key.strip()
        if not cert and not key:
            return
        if not cert or not key:
            raise exceptions.OptionsError("TLS needs both strangler_tls_cert and strangler_tls_key (PEM files); "
                                          "make a development pair with `strangler tls selfsigned --out DIR`")
        try:
            pem = Path(cert).read_bytes().strip() + b"\n" + Path(key).read_bytes().strip() + b"\n"
        except OSError as exc:
            raise exceptions.OptionsError(f"cannot read the TLS certificate/key: {exc}") from None
        if b"PRIVATE KEY-----" not in pem or b"BEGIN CERTIFICATE" not in pem:
            raise exceptions.OptionsError("strangler_tls_cert must be a PEM certificate and strangler_tls_key a "
                                          "PEM private key")
        if self._tls_dir is None:
            self._tls_dir = tempfile.mkdtemp(prefix="strangler-tls-")  # 0700: the key never lands readable
        combined = os.path.join(self._tls_dir, "facade.pem")
        fd = os.open(combined, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        ctx.options.update(certs=[f"*={combined}"])  # mitmproxy serves it for every name it is asked for

    def configure(self, updated: set[str]) -> None:
        if "strangler_tls_cert" in updated or "strangler_tls_key" in updated:
            self._configure_tls()
        if "strangler_stream_bytes" in updated:
            raw = ctx.options.strangler_stream_bytes.strip()
            try:
                size = human.parse_size(raw) if raw and raw != "0" else None
            except ValueError:
                raise exceptions.OptionsError(f"strangler_stream_bytes={raw!r} is not a size; use e.g. 512k, "
                                              "4m, or 0 to disable streaming") from None
            self._stream_bytes = size
            if "stream_large_bodies" in ctx.options:  # (absent in bare unit-test option sets)
                ctx.options.update(stream_large_bodies=raw if size else None)
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

    def _refuse(self, flow: http.HTTPFlow, status: int, code: str, message: str, reason: str,
                at_once: bool = False) -> None:
        decision = flow.metadata.get(META)
        if decision is None:
            decision = flow.metadata[META] = Decision(hdr.request_id(flow.request.headers), time.perf_counter())
        decision.state = "refused"
        self.state.metrics.refusals.labels(reason).inc()
        response = json_error(status, code, message, decision.request_id)
        if at_once or flow.request.stream:  # the body is still to come: answer without reading it
            answer_at_once(flow, response)
        else:
            flow.response = response

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._refuse(flow, 403, "connect_refused", "CONNECT is not allowed: this is a reverse proxy, not a "
                     "forward proxy", "connect")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        snap = self.state.current
        if req.method == "CONNECT":
            return  # handled in http_connect / by mitmproxy's reverse-mode validation
        bad = malformed_field(req.headers.fields)
        if bad is not None:
            self._refuse(flow, 400, "bad_request", "malformed header line (obs-fold, bare CR, or a character not "
                         "allowed in a header name/value). Fix: send each header on one line ending in CRLF, "
                         "as `Name: value`", "malformed_header", at_once=True)
            log.warning("400 malformed_header: %s %s: header %r (request_id %s)", req.method, req.path[:200],
                        bad[:60], flow.metadata[META].request_id)
            return
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
                size = int(length)
            except ValueError:
                size = 0  # mitmproxy rejects malformed lengths itself
            if size > limit:
                self._too_large(flow, limit, f"of {size} bytes ", at_once=True)
                return
        if self._stream_bytes is not None and flow.response is None:
            self._stream_request(flow, req, length, limit)

    def _stream_request(self, flow: http.HTTPFlow, req: http.Request, length: str | None, limit: int | None) -> None:
        if not req.stream and length is None and "chunked" in req.headers.get("transfer-encoding", "").lower():
            # size unknown: stream from the start
            req.stream = _Limiter(limit, flow, self) if limit is not None else True
        if not req.stream:
            return
        self._router.request(flow)  # address it now: its headers leave right after this hook
        if flow.response is not None:  # refused (e.g. breaker open): answer now, nothing is read or streamed
            response, flow.response = flow.response, None
            answer_at_once(flow, response)
            return
        flow.metadata[STREAMED_META] = True
        self.streamed.labels("request").inc()

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        if resp is None or self._stream_bytes is None:
            return
        if resp.stream:
            self.streamed.labels("response").inc()
        if resp.stream or "content-length" not in resp.headers:
            # headers of a streamed (or maybe late-streamed) response leave before the response hook
            self._router.response(flow)

    def request(self, flow: http.HTTPFlow) -> None:
        snap = self.state.current
        if flow.response is None and snap is not None:
            content = flow.request.raw_content
            if content is not None and len(content) > snap.table.limits.max_body_bytes:
                self._too_large(flow, snap.table.limits.max_body_bytes, f"of {len(content)} bytes ")

    def _too_large(self, flow: http.HTTPFlow, limit: int, size: str, at_once: bool = False) -> None:
        self._refuse(flow, 413, "body_too_large", too_large_message(limit, size), "body_too_large", at_once)
        log_too_large(flow, limit, size)

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


def malformed_field(fields: tuple[tuple[bytes, bytes], ...]) -> bytes | None:
    """The name of the first header whose name is not a token or whose value holds CR, LF or NUL."""
    for name, value in fields:
        if _NOT_TOKEN.search(name) or _LINE_BREAK.search(value):
            return name
    return None


def too_large_message(limit: int, size: str) -> str:
    return (f"request body {size}exceeds the façade limit of {limit} bytes. Fix: send at most {limit} bytes, "
            "or raise limits.max_body_bytes in the route table")


def log_too_large(flow: http.HTTPFlow, limit: int, size: str) -> None:
    """The one log line of a refused oversize body (never any of its bytes)."""
    decision = flow.metadata.get(META)
    log.warning("413 body_too_large: %s %s: body %sover limits.max_body_bytes=%d (request_id %s)",
                flow.request.method, flow.request.path[:200], size, limit, decision.request_id if decision else "-")


class _Limiter:
    """Stream callable for a chunked request: passes chunks on; past the limit it forwards nothing more and
    cuts the upstream connection, so the client gets a JSON 413 (not the upstream's fault: no breaker count)."""

    def __init__(self, limit: int, flow: http.HTTPFlow, guard: Guard):
        self.limit, self.flow, self.guard, self.seen, self.cut = limit, flow, guard, 0, False

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        self.seen += len(chunk)
        if self.seen <= self.limit:
            return chunk
        if not self.cut:
            self.cut = True
            asyncio.get_running_loop().call_soon(self._cut)
        return []  # nothing more goes out (an empty bytes chunk would END a chunked body instead)

    def _cut(self) -> None:
        flow, decision = self.flow, self.flow.metadata.get(META)
        if decision is not None:
            decision.forwarded = False  # the upstream did nothing wrong: keep it out of breaker accounting
            decision.state = "refused"
        self.guard.state.metrics.refusals.labels("body_too_large").inc()
        size = f"of more than {self.limit} bytes (chunked) "
        flow.metadata[ANSWERED_META] = 413
        file_protocol_error(flow.client_conn.id, 413, error_body(
            413, "body_too_large", too_large_message(self.limit, size), decision.request_id if decision else None),
            linger=True)
        log_too_large(flow, self.limit, size)
        handler = ctx.master.addons.get("proxyserver").connections.get(flow.client_conn.id)
        for conn, io in list(handler.transports.items()) if handler is not None else ():
            if conn is not handler.client and io.handler is not None:
                io.handler.cancel("request body too large")
