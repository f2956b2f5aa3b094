"""Helpers for the Messaging side's tests: an end user's client over raw HTTP (as
the Enhanced Chat API documents it), a minimal reader of the event stream, and the
rep's hands through the emulator's JSON routes."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from opencx_salesforce.emulator.messaging.deployment import DEFAULT_DEPLOYMENT
from opencx_salesforce.emulator.org import Org

API = "/iamessage/api/v2"

# Routing attributes as the plugin sends them: the standard pre-chat keys and the
# channel's custom parameters. [src: MIAW.md §5]
ATTRIBUTES = {
    "_firstName": "Ada",
    "_lastName": "Lovelace",
    "_email": "ada@example.com",
    "_subject": "Refund for order 4417",
    "OpencxSessionId": "s-1",
    "OpencxChannel": "chat",
    "OpencxLanguage": "en",
}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class StreamEvent:
    id: str | None
    event: str
    data: str

    @property
    def json(self) -> Any:
        return json.loads(self.data)

    @property
    def entry(self) -> dict[str, Any]:
        return dict(self.json["conversationEntry"])

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.entry["entryPayload"]))


async def _reply(response: aiohttp.ClientResponse) -> Reply:
    text = await response.text()
    try:
        body = json.loads(text) if text else None
    except json.JSONDecodeError:
        body = text
    return Reply(response.status, dict(response.headers), body)


@dataclass
class EndUser:
    """One end user's client: its token, its conversations."""

    http: aiohttp.ClientSession
    base_url: str
    org: Org
    deployment: str = DEFAULT_DEPLOYMENT
    token: str = ""
    last_event_id: str = "0"
    subject: str = ""
    conversation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def token_body(self, **extra: Any) -> dict[str, Any]:
        return {
            "orgId": self.org.id[:15],
            "esDeveloperName": self.deployment,
            "capabilitiesVersion": "1",
            "platform": "Web",
            **extra,
        }

    async def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Reply:
        async with self.http.post(
            self.base_url + API + path, json=body, headers=headers or self.auth
        ) as response:
            return await _reply(response)

    async def get(self, path: str, **params: str) -> Reply:
        async with self.http.get(self.base_url + API + path, params=params, headers=self.auth) as r:
            return await _reply(r)

    async def delete(self, path: str, **params: str) -> Reply:
        async with self.http.delete(
            self.base_url + API + path, params=params, headers=self.auth
        ) as response:
            return await _reply(response)

    def _keep(self, reply: Reply) -> Reply:
        if reply.status == 200:
            self.token = reply.body["accessToken"]
            self.last_event_id = reply.body["lastEventId"]
            self.subject = reply.body["context"]["endUser"]["subject"]
        return reply

    async def guest(self) -> Reply:
        return self._keep(
            await self.post("/authorization/unauthenticated/access-token", self.token_body(), {})
        )

    async def verified(self, identity_jwt: str) -> Reply:
        body = self.token_body(
            authorizationType="JWT",
            customerIdentityToken=identity_jwt,
            deviceId=str(uuid.uuid4()),
            context={"appName": "opencx-tests", "clientVersion": "1.0"},
        )
        return self._keep(await self.post("/authorization/authenticated/access-token", body, {}))

    async def create(self, routing_attributes: dict[str, Any] | None = None) -> Reply:
        body: dict[str, Any] = {
            "conversationId": self.conversation_id,
            "esDeveloperName": self.deployment,
        }
        if routing_attributes is not None:
            body["routingAttributes"] = routing_attributes
        return await self.post("/conversation", body)

    async def send(
        self, text: str, message_id: str | None = None, in_reply_to: str | None = None
    ) -> Reply:
        message: dict[str, Any] = {
            "id": message_id or str(uuid.uuid4()),
            "messageType": "StaticContentMessage",
            "staticContent": {"formatType": "Text", "text": text},
        }
        if in_reply_to is not None:
            message["inReplyToMessageId"] = in_reply_to  # optional [src: sample sendTextMessage]
        body = {"message": message, "esDeveloperName": self.deployment}
        return await self.post(f"/conversation/{self.conversation_id}/message", body)

    async def entries(self, **params: str) -> Reply:
        return await self.get(f"/conversation/{self.conversation_id}/entries", **params)

    async def close(self) -> Reply:
        return await self.delete(
            f"/conversation/{self.conversation_id}", esDeveloperName=self.deployment
        )

    async def open_stream(self, last_event_id: str | None = None) -> aiohttp.ClientResponse:
        headers = {
            **self.auth,
            "Accept": "text/event-stream",
            "X-Org-Id": self.org.id[:15],
        }
        resume = last_event_id if last_event_id is not None else self.last_event_id
        if resume:
            headers["Last-Event-Id"] = resume
        return await self.http.get(self.base_url + "/eventrouter/v1/sse", headers=headers)


async def read_events(
    response: aiohttp.ClientResponse, count: int, *, pings: bool = False, timeout: float = 10
) -> list[StreamEvent]:
    """The next ``count`` events of an open stream (pings skipped unless asked);
    fewer if the server ends the stream first. Fails the test after ``timeout``."""
    events: list[StreamEvent] = []
    fields: dict[str, str] = {}
    async with asyncio.timeout(timeout):
        async for raw in response.content:
            line = raw.decode().rstrip("\r\n")
            if line:
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
                continue
            if fields:
                event = StreamEvent(
                    fields.get("id"), fields.get("event", "message"), fields.get("data", "")
                )
                fields = {}
                if event.event != "ping" or pings:
                    events.append(event)
                    if len(events) == count:
                        break
    return events


async def wait_for_event(
    response: aiohttp.ClientResponse, event_type: str, timeout: float = 10
) -> StreamEvent:
    while True:
        got = await read_events(response, 1, timeout=timeout)
        assert got, f"the stream ended before {event_type}"
        if got[0].event == event_type:
            return got[0]


@dataclass
class Agent:
    """The rep, through the emulator's JSON routes."""

    http: aiohttp.ClientSession
    base_url: str
    org: Org

    def url(self, path: str) -> str:
        return f"{self.base_url}/_emulator/orgs/{self.org.id}/messaging{path}"

    async def act(self, conversation_id: str, action: str, **body: Any) -> Reply:
        url = self.url(f"/conversations/{conversation_id}/{action}")
        async with self.http.post(url, json=body) as response:
            return await _reply(response)

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        async with self.http.get(self.url(f"/conversations/{conversation_id}")) as response:
            assert response.status == 200
            return dict(await response.json())

    async def faults(self, **knobs: Any) -> Reply:
        async with self.http.post(self.url("/faults"), json=knobs) as response:
            return await _reply(response)

    async def deployment(self, **fields: Any) -> Reply:
        async with self.http.post(self.url("/deployments"), json=fields) as response:
            return await _reply(response)


def jwk_with_certificate(
    key: Any, *, alg: str = "RS256", valid_days: float = 365
) -> dict[str, Any]:
    """The public JWK of a joserfc RSA key in the shape Salesforce asks of a
    verification key: kty, kid, alg and x5c (a self-signed certificate)."""
    import base64
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    private = key.private_key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tests")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=valid_days))
        .sign(private, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    return {
        **key.as_dict(private=False),
        "alg": alg,
        "use": "sig",
        "x5c": [base64.b64encode(der).decode()],
    }
