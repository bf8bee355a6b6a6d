"""Runs the admin API (proxy/admin.py) inside mitmdump's event loop on its own loopback listener.

The token is checked in `configure`, so a missing or short STRANGLER_ADMIN_TOKEN stops mitmdump at
startup with a message saying how to set it. We bind the socket ourselves (a clear error if the port is
taken) and keep uvicorn from installing signal handlers, which belong to mitmproxy. uvicorn's own main loop
wakes every 0.1 s to refresh its Date header once a second and to look at `should_exit`; embedded, the Date
header is computed when a response asks for it (at most once a second) and `should_exit` wakes the loop
itself, so an idle admin API costs the façade no wake-ups.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from email.utils import formatdate

import uvicorn
import uvicorn.server
from mitmproxy import ctx, exceptions

from proxy.addons.state import FacadeState
from proxy.admin import MIN_TOKEN_LENGTH, TOKEN_HINT, create_admin_app

log = logging.getLogger("strangler.facade")


class _DatedState(uvicorn.server.ServerState):
    """uvicorn's shared server state whose default headers (Date + the configured ones, what uvicorn's tick
    sets) are computed when a response reads them, at most once a second."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._config, self._second = config, -1
        self._headers: list[tuple[bytes, bytes]] = []
        super().__init__()

    @property
    def default_headers(self) -> list[tuple[bytes, bytes]]:
        now = int(time.time())
        if now != self._second:
            date = [(b"date", formatdate(now, usegmt=True).encode())] if self._config.date_header else []
            self._second, self._headers = now, date + self._config.encoded_headers  # set by config.load()
        return self._headers

    @default_headers.setter
    def default_headers(self, value: list[tuple[bytes, bytes]]) -> None:
        """ServerState.__init__ sets []: the headers are computed, never stored."""


class _EmbeddedServer(uvicorn.Server):
    """uvicorn.Server without its 0.1 s tick: main_loop waits for `should_exit` (an event, set by `done`)."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._exit = asyncio.Event()
        super().__init__(config)
        self.server_state = _DatedState(config)

    @property
    def should_exit(self) -> bool:
        return self._exit.is_set()

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        if value:
            self._exit.set()
        else:
            self._exit.clear()

    async def main_loop(self) -> None:  # no limit_max_requests / callback_notify here: neither is configured
        await self._exit.wait()

    def capture_signals(self):  # mitmproxy owns SIGINT/SIGTERM
        return contextlib.nullcontext()


class AdminServer:
    def __init__(self, state: FacadeState):
        self.state = state
        self.token: str | None = None
        self.server: _EmbeddedServer | None = None
        self.task: asyncio.Task | None = None
        self.port: int | None = None

    def configure(self, updated: set[str]) -> None:
        if not updated & {"strangler_admin_port", "strangler_admin_host"}:
            return
        port, host = ctx.options.strangler_admin_port, ctx.options.strangler_admin_host
        if port == 0:
            self.token = None
            return
        if not 0 < port < 65536:
            raise exceptions.OptionsError(f"strangler_admin_port={port} is not a TCP port; use 1-65535 or 0 (off)")
        from proxy.net import is_loopback

        if not is_loopback(host):
            raise exceptions.OptionsError(f"strangler_admin_host={host!r} is not a loopback address; the admin API "
                                          "binds 127.0.0.1 or ::1 only (put an authenticated tunnel in front)")
        token = os.environ.get("STRANGLER_ADMIN_TOKEN", "")
        if len(token) < MIN_TOKEN_LENGTH:
            problem = "is not set" if not token else f"is only {len(token)} characters"
            raise exceptions.OptionsError(
                f"the admin API is enabled (strangler_admin_port={port}) but STRANGLER_ADMIN_TOKEN {problem}: "
                f"{TOKEN_HINT}; or disable the admin API with --set strangler_admin_port=0")
        self.token = token

    async def running(self) -> None:
        if self.token is None or self.task is not None:
            return
        host, port = ctx.options.strangler_admin_host, ctx.options.strangler_admin_port
        # IPPROTO_TCP said: asyncio sets TCP_NODELAY only on sockets whose proto is TCP (proto 0 left Nagle on,
        # and every keep-alive request after the first waited ~40 ms for the client's delayed ACK)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            log.error("admin API cannot listen on %s:%s (%s); choose a free strangler_admin_port", host, port, exc)
            return
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(create_admin_app(self.state, self.token), log_config=None, access_log=False,
                                lifespan="off", log_level="warning")
        self.server = _EmbeddedServer(config)
        self.task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[sock]),
                                                           name="strangler admin api")
        log.info("admin API listening on http://%s:%s", host, self.port)

    async def done(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self.task, timeout=3)
        self.server = self.task = None
