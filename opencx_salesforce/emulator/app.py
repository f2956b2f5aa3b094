"""The emulator as an aiohttp application: one class that owns the state and the
routes, started on a loopback port (port 0 picks a free one)."""

from __future__ import annotations

import ssl

from aiohttp import web

from opencx_salesforce.emulator.admin_routes import add_admin_routes
from opencx_salesforce.emulator.client_gone import client_gone_middleware
from opencx_salesforce.emulator.faults import faults_middleware
from opencx_salesforce.emulator.messaging.routes import add_messaging_routes
from opencx_salesforce.emulator.oauth.routes import add_oauth_routes
from opencx_salesforce.emulator.request_size import (
    PARSER_LINE_LIMIT,
    request_size_middleware,
)
from opencx_salesforce.emulator.rest.routes import add_rest_routes
from opencx_salesforce.emulator.same_origin import same_origin_middleware
from opencx_salesforce.emulator.state import EmulatorState

STATE_KEY = web.AppKey("emulator_state", EmulatorState)


class Emulator:
    """A running local Salesforce.

    >>> emulator = Emulator()
    >>> org = emulator.state.add_org(default_org())
    >>> base_url = await emulator.start()   # "http://127.0.0.1:PORT"
    """

    def __init__(self, state: EmulatorState | None = None) -> None:
        self.state = state or EmulatorState()
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None

    def _build_app(self) -> web.Application:
        # Outermost: a client gone mid-request is not a fault's or a route's error.
        app = web.Application(
            middlewares=[
                client_gone_middleware,
                request_size_middleware,
                same_origin_middleware,
                faults_middleware(self.state),
            ]
        )
        app[STATE_KEY] = self.state
        add_oauth_routes(app, self.state)
        add_rest_routes(app, self.state)
        add_admin_routes(app, self.state)
        add_messaging_routes(app, self.state)  # Messaging for In-App and Web (SCRT)
        return app

    @property
    def base_url(self) -> str:
        return self.state.base_url

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, ssl_context: ssl.SSLContext | None = None
    ) -> str:
        """Serve HTTPS when given an ``ssl_context`` (see emulator/tls.py); the
        base URL, and so every instance URL the org hands out, is then https."""
        # Salesforce's URI and header limits, not the parser's 8 KB, decide
        # (emulator/request_size.py).
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            max_line_size=PARSER_LINE_LIMIT,
            max_field_size=PARSER_LINE_LIMIT,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        # The port the OS picked when asked for port 0.
        addresses = self._runner.addresses
        actual_port = addresses[0][1] if addresses else port
        scheme = "https" if ssl_context is not None else "http"
        url_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        self.state.base_url = f"{scheme}://{url_host}:{actual_port}"
        return self.state.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
