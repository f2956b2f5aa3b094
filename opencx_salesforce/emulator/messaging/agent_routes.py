"""The rep's hands and the Messaging knobs, under ``/_emulator/`` (no Salesforce API).

================================================================  ===========================
``GET  /_emulator/messaging``                                      → the first org's console
``GET  /_emulator/orgs/{orgId}/messaging/``                        page: the agent console
``GET  .../messaging/conversations[/{id}]``                        JSON: conversations, entries
``POST .../messaging/conversations/{id}/accept``  ``{"user"}``     accept the routed work
``POST .../messaging/conversations/{id}/message`` ``{"text"}``     write to the end user
``POST .../messaging/conversations/{id}/typing``  ``{"typing"}``   typing started / stopped
``POST .../messaging/conversations/{id}/transfer`` ``{"queue"}``   back to a queue
``POST .../messaging/conversations/{id}/end``                      end the session
``GET|POST .../messaging/faults``                                  the knobs (faults.py)
``GET|POST .../messaging/deployments``                             deployments (add / change)
``POST .../messaging/streams/drop``                                cut every open stream
================================================================  ===========================

The console's forms post to the same URLs and get a 303 back to the page; form
posts from another origin are refused, as on the Case page.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from opencx_salesforce.emulator.messaging.console import Console
from opencx_salesforce.emulator.messaging.deployment import API_NAME, DEPLOYMENT_TYPES, Deployment
from opencx_salesforce.emulator.messaging.omni import Omni, OmniError
from opencx_salesforce.emulator.messaging.side import Conversation, MessagingSide, OrgMessaging
from opencx_salesforce.emulator.rep import FORM_CONTENT_TYPES, see_other

PREFIX = "/_emulator/orgs/{org_id}/messaging"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AgentRoutes:
    def __init__(self, side: MessagingSide, omni: Omni) -> None:
        self.side = side
        self.omni = omni
        self.console = Console(side, omni)

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/_emulator/messaging", self.first_console)
        app.router.add_get(f"{PREFIX}/", self.console_page)
        app.router.add_get(f"{PREFIX}/conversations", self.list_conversations)
        app.router.add_get(f"{PREFIX}/conversations/{{id}}", self.one_conversation)
        for action in ("accept", "message", "typing", "transfer", "end"):
            app.router.add_post(f"{PREFIX}/conversations/{{id}}/{action}", self._action(action))
        app.router.add_get(f"{PREFIX}/faults", self.faults)
        app.router.add_post(f"{PREFIX}/faults", self.set_faults)
        app.router.add_get(f"{PREFIX}/deployments", self.deployments)
        app.router.add_post(f"{PREFIX}/deployments", self.set_deployment)
        app.router.add_post(f"{PREFIX}/streams/drop", self.drop_streams)

    def _org(self, request: web.Request) -> OrgMessaging:
        org = self.side.state.orgs.get(request.match_info["org_id"])
        if org is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no org {request.match_info['org_id']}"}),
                content_type="application/json",
            )
        return self.side.of(org)

    def _conversation(self, request: web.Request) -> Conversation:
        found = self._org(request).conversations.get(request.match_info["id"])
        if found is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": "no such conversation"}), content_type="application/json"
            )
        return found

    # --- pages and reads ----------------------------------------------------------------------

    async def first_console(self, request: web.Request) -> web.Response:
        """The agent console of the emulator's first org (the one people start with)."""
        for org in self.side.state.orgs.values():
            return see_other(f"/_emulator/orgs/{org.id}/messaging/")
        raise web.HTTPNotFound(text="No org yet.")

    async def console_page(self, request: web.Request) -> web.Response:
        org = self._org(request)
        return self.console.render(
            org,
            selected=request.query.get("c", ""),
            notice=request.query.get("notice", ""),
            error=request.query.get("error", ""),
        )

    async def list_conversations(self, request: web.Request) -> web.Response:
        org = self._org(request)
        return web.json_response(
            {"conversations": [self.console.describe(c) for c in org.conversations.values()]}
        )

    async def one_conversation(self, request: web.Request) -> web.Response:
        return web.json_response(self.console.describe(self._conversation(request)))

    # --- the rep's actions --------------------------------------------------------------------

    def _action(self, action: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            from_form = request.content_type in FORM_CONTENT_TYPES
            if from_form and request.headers.get("Origin") not in (
                None,
                f"{request.scheme}://{request.host}",
            ):
                return web.json_response({"error": "cross-origin form post refused"}, status=403)
            conversation = self._conversation(request)
            values: dict[str, Any] = (
                dict(await request.post()) if from_form else await _json(request)
            )
            try:
                result = self._run(action, conversation, values)
            except OmniError as error:
                if from_form:
                    return see_other(self._page(conversation, error=str(error)))
                return web.json_response({"error": str(error)}, status=error.status)
            if from_form:
                return see_other(self._page(conversation, notice=result["notice"]))
            return web.json_response(result)

        return handle

    def _run(
        self, action: str, conversation: Conversation, values: dict[str, Any]
    ) -> dict[str, Any]:
        if action == "accept":
            agent = self.omni.accept(conversation, _text(values, "user") or None)
            return {"notice": f"Accepted by {agent.name}.", "agent": agent.user_id}
        if action == "message":
            entry_id = self.omni.send(conversation, _text(values, "text"))
            return {"notice": "Message sent.", "identifier": entry_id}
        if action == "typing":
            raw = values.get("typing")
            started = raw is True or raw in ("true", "started", "on")
            self.omni.typing(conversation, started=started)
            return {"notice": "Typing…" if started else "Stopped typing."}
        if action == "transfer":
            queue = _text(values, "queue")
            self.omni.transfer(conversation, queue)
            return {"notice": f"Transferred to {queue}."}
        self.omni.end(conversation)
        return {"notice": "Session ended."}

    def _page(self, conversation: Conversation, **params: str) -> str:
        query = urlencode({"c": conversation.id, **{k: v for k, v in params.items() if v}})
        return f"/_emulator/orgs/{conversation.org_id}/messaging/?{query}"

    # --- knobs and deployments ----------------------------------------------------------------

    async def faults(self, request: web.Request) -> web.Response:
        return web.json_response(self._org(request).faults.as_dict())

    async def set_faults(self, request: web.Request) -> web.Response:
        """``{"reset": true, "sse_drop_after": 20, "sse_drops": 5, ...}``: reset first
        if asked, then set the named knobs."""
        org = self._org(request)
        body = await _json(request)
        if body.get("reset") is True:
            org.faults.reset()
        try:
            org.faults.apply(body)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response(org.faults.as_dict())

    async def deployments(self, request: web.Request) -> web.Response:
        org = self._org(request)
        return web.json_response({"deployments": [d.as_dict() for d in org.deployments.values()]})

    async def set_deployment(self, request: web.Request) -> web.Response:
        """``{"apiName", "deploymentType", "jwksUrl", "issuer", "keysetName",
        "allowGuests", "verifiedTokenSeconds", "guestTokenSeconds", "queue",
        "silentGuestFallback"}``: add the deployment or change the named fields."""
        org = self._org(request)
        body = await _json(request)
        try:
            deployment = _deployment_from(body, org.deployments.get(str(body.get("apiName"))))
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        org.deployments[deployment.api_name] = deployment
        return web.json_response(deployment.as_dict())

    async def drop_streams(self, request: web.Request) -> web.Response:
        self._org(request)
        self.side.drop_streams()
        return web.json_response({"dropped": True})


_FIELDS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "deploymentType": ("deployment_type", str),
    "jwksUrl": ("jwks_url", (str, type(None))),
    "issuer": ("issuer", (str, type(None))),
    "keysetName": ("keyset_name", str),
    "allowGuests": ("allow_guests", bool),
    "silentGuestFallback": ("silent_guest_fallback", bool),
    "verifiedTokenSeconds": ("verified_token_seconds", (int, float)),
    "guestTokenSeconds": ("guest_token_seconds", (int, float)),
    "queue": ("queue_name", str),
}


def _deployment_from(body: dict[str, Any], existing: Deployment | None) -> Deployment:
    name = body.get("apiName")
    if not isinstance(name, str) or not API_NAME.match(name):
        raise ValueError("apiName: letters, digits and underscores, starting with a letter")
    deployment = existing or Deployment(api_name=name)
    for key, value in body.items():
        if key == "apiName":
            continue
        if key not in _FIELDS:
            raise ValueError(f"{key}: unknown; known: apiName, {', '.join(_FIELDS)}")
        attribute, kind = _FIELDS[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ValueError(f"{key}: bad value")
        if key == "deploymentType" and value not in DEPLOYMENT_TYPES:
            raise ValueError(f"deploymentType: one of {', '.join(DEPLOYMENT_TYPES)}")
        setattr(deployment, attribute, value)
    return deployment


def _text(values: dict[str, Any], name: str) -> str:
    value = values.get(name, "")
    return value.strip() if isinstance(value, str) else ""


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body: expected a JSON object"}),
            content_type="application/json",
        )
    return body
