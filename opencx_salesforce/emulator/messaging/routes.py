"""Mounting the Messaging side on the emulator's app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from opencx_salesforce.emulator.messaging.agent_routes import AgentRoutes
from opencx_salesforce.emulator.messaging.latency import latency_middleware
from opencx_salesforce.emulator.messaging.omni import Omni
from opencx_salesforce.emulator.messaging.scrt_auth import TokenRoutes
from opencx_salesforce.emulator.messaging.scrt_conversations import ConversationRoutes
from opencx_salesforce.emulator.messaging.side import MessagingSide
from opencx_salesforce.emulator.messaging.sse import EventStream

if TYPE_CHECKING:
    from opencx_salesforce.emulator.state import EmulatorState

MESSAGING_KEY = web.AppKey("emulator_messaging", MessagingSide)


def add_messaging_routes(app: web.Application, state: EmulatorState) -> MessagingSide:
    """The SCRT endpoints and event stream (on the emulator's host, which stands for
    the deployment's SCRT URL), and the rep's routes under ``/_emulator/``."""
    side = MessagingSide(state)
    app.middlewares.append(latency_middleware(side))  # the SCRT network (latency_ms)
    omni = Omni(side)
    tokens = TokenRoutes(side)
    tokens.add_to(app)
    ConversationRoutes(side, omni, tokens).add_to(app)
    EventStream(side, tokens).add_to(app)
    AgentRoutes(side, omni).add_to(app)
    app[MESSAGING_KEY] = side

    async def end_streams(app: web.Application) -> None:
        # Before the server waits for its handlers: open streams end now.
        side.drop_streams()

    async def close(app: web.Application) -> None:
        await side.close()

    app.on_shutdown.append(end_streams)
    app.on_cleanup.append(close)
    return side


def messaging_of(app: web.Application) -> MessagingSide:
    return app[MESSAGING_KEY]
