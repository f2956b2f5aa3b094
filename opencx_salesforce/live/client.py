"""An aiohttp client for the Enhanced Chat API's SCRT endpoints: access tokens
(guest, verified user, continuation), conversations with routing attributes,
messages, typing, entries, close.

Every call goes to ``{scrt_url}/iamessage/api/v2/...`` with ``Authorization: Bearer``
and JSON bodies [src: MIAW.md §1-3; API reference
https://developer.salesforce.com/docs/service/messaging-api/references/miaw-api-reference;
official sample messagingService.js]. Failures raise the classes of
:mod:`opencx_salesforce.live.errors`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

from opencx_salesforce.live.errors import (
    BadRequest,
    Forbidden,
    LiveError,
    RateLimited,
    ScrtUnavailable,
    Unauthorized,
    VerificationFailed,
)
from opencx_salesforce.live.models import AccessToken, LiveEvent, parse_entry

API = "/iamessage/api/v2"
# "The UUID must be in lowercase." [src: Server-Sent Events .htm]
LOWERCASE_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# list-entries limit: at most 50 [src: sample constants.js]
MAX_ENTRIES = 50


def new_conversation_id() -> str:
    """A client-made conversation id: a lowercase UUID v4."""
    return str(uuid.uuid4())


class ScrtClient:
    """One Messaging deployment of one org, reached at its SCRT URL."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        scrt_url: str,
        org_id: str,
        deployment: str,
        *,
        platform: str = "Web",
        app_name: str = "opencx-salesforce",
        client_version: str = "1",
        timeout: float = 30.0,
    ) -> None:
        self.http = http
        self.scrt_url = scrt_url.rstrip("/")
        self.org_id = org_id
        self.deployment = deployment
        self.platform = platform
        self.context = {"appName": app_name, "clientVersion": client_version}
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    # --- tokens -------------------------------------------------------------------------------

    def _token_body(self, device_id: str | None) -> dict[str, Any]:
        # [src: sample getUnauthenticatedAccessToken; ref generateAccessTokenFor*]
        return {
            "orgId": self.org_id,
            "esDeveloperName": self.deployment,
            "capabilitiesVersion": "1",
            "platform": self.platform,
            "deviceId": device_id or str(uuid.uuid4()),
            "context": self.context,
        }

    async def guest_token(self, device_id: str | None = None) -> AccessToken:
        body = await self._call(
            "POST", "/authorization/unauthenticated/access-token", None, self._token_body(device_id)
        )
        return AccessToken.from_response(body)

    async def verified_token(self, identity_jwt: str, device_id: str | None = None) -> AccessToken:
        """A verified user's token from an identity JWT the plugin signed. Raises
        :class:`VerificationFailed` if the answer is a guest token."""
        request = {
            **self._token_body(device_id),
            "authorizationType": "JWT",
            "customerIdentityToken": identity_jwt,
        }
        body = await self._call("POST", "/authorization/authenticated/access-token", None, request)
        token = AccessToken.from_response(body)
        if not token.verified:
            raise VerificationFailed(
                f"the identity token was not accepted: subject {token.subject!r} is a guest"
            )
        return token

    async def continuation_token(self, token: str) -> AccessToken:
        """ "A JWT with the same subjectId but new clientId" [ref
        ?meta=generateContinuationToken]; it does not extend the expiry (UNCONFIRMED)."""
        body = await self._call("GET", "/authorization/continuation-access-token", token)
        return AccessToken.from_response(body)

    # --- conversations ------------------------------------------------------------------------

    async def create_conversation(
        self,
        token: str,
        conversation_id: str,
        routing_attributes: Mapping[str, str] | None = None,
        *,
        language: str | None = None,
    ) -> None:
        """Routing attributes are strings [src: Help service.miaw_map_messaging_2.htm]
        and settable only before the conversation begins (MIAW.md §5): send them here."""
        _check_id(conversation_id)
        body: dict[str, Any] = {
            "conversationId": conversation_id,
            "esDeveloperName": self.deployment,
        }
        if routing_attributes:
            for key, value in routing_attributes.items():
                if not isinstance(value, str):
                    raise TypeError(
                        f"routing attribute {key}: a string, not {type(value).__name__}"
                    )
            body["routingAttributes"] = dict(routing_attributes)
        if language:
            body["language"] = language  # public client code, UNCONFIRMED
        await self._call("POST", "/conversation", token, body)

    async def send_message(
        self, token: str, conversation_id: str, text: str, *, message_id: str | None = None
    ) -> str:
        """Sends a text message; returns its id (also the entry id of its echo). Pass
        the same ``message_id`` when retrying one message."""
        _check_id(conversation_id)
        message_id = message_id or str(uuid.uuid4())
        body = {
            "message": {
                "id": message_id,
                "messageType": "StaticContentMessage",
                "staticContent": {"formatType": "Text", "text": text},
            },
            "esDeveloperName": self.deployment,
        }
        await self._call("POST", f"/conversation/{conversation_id}/message", token, body)
        return message_id

    async def send_typing(self, token: str, conversation_id: str, *, started: bool) -> None:
        # [src: sample sendTypingIndicator; values public client code, UNCONFIRMED]
        _check_id(conversation_id)
        entry_type = "TypingStartedIndicator" if started else "TypingStoppedIndicator"
        body = {"entryType": entry_type, "id": str(uuid.uuid4())}
        await self._call("POST", f"/conversation/{conversation_id}/entry", token, body)

    async def list_entries(
        self,
        token: str,
        conversation_id: str,
        *,
        limit: int = MAX_ENTRIES,
        direction: str = "FromEnd",
        start_timestamp: int | None = None,
        end_timestamp: int | None = None,
        entry_types: tuple[str, ...] = (),
    ) -> list[LiveEvent]:
        """One page of the conversation's entries, as typed events (``event_id``
        None), in the order the API answers (FromEnd: newest first)."""
        _check_id(conversation_id)
        params: dict[str, str] = {"limit": str(min(limit, MAX_ENTRIES)), "direction": direction}
        if start_timestamp is not None:
            params["startTimestamp"] = str(start_timestamp)
        if end_timestamp is not None:
            params["endTimestamp"] = str(end_timestamp)
        if entry_types:
            params["entryTypeFilter"] = ",".join(entry_types)
        body = await self._call(
            "GET", f"/conversation/{conversation_id}/entries", token, params=params
        )
        events = []
        for entry in body.get("conversationEntries") or []:
            if isinstance(entry, dict):
                event = parse_entry(entry, conversation_id)
                if event is not None:
                    events.append(event)
        return events

    async def close_conversation(self, token: str, conversation_id: str) -> None:
        """Closes the conversation (the end user leaves) [src: ref ?meta=closeConversation]."""
        _check_id(conversation_id)
        await self._call(
            "DELETE",
            f"/conversation/{conversation_id}",
            token,
            params={"esDeveloperName": self.deployment},
        )

    # --- HTTP ---------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        token: str | None,
        body: dict[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = f"{self.scrt_url}{API}{path}"
        try:
            async with self.http.request(
                method, url, json=body, params=params, headers=headers, timeout=self.timeout
            ) as response:
                text = await response.text()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ScrtUnavailable(f"{method} {path}: {error!r}") from error
        if status < 300:
            return _json_object(text)
        raise _error(method, path, status, text, retry_after)


def _check_id(conversation_id: str) -> None:
    if not LOWERCASE_UUID.match(conversation_id):
        raise ValueError(f"conversation id {conversation_id!r}: a lowercase UUID")


def _json_object(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(method: str, path: str, status: int, text: str, retry_after: str | None) -> LiveError:
    message = f"{method} {path}: HTTP {status} {text[:300]}"
    if status == 429 or (status == 503 and retry_after):
        return RateLimited(message, retry_after=_seconds(retry_after), status=status, body=text)
    if status == 401:
        return Unauthorized(message, status=status, body=text)
    if status == 403:
        return Forbidden(message, status=status, body=text)
    if status >= 500:
        return ScrtUnavailable(message, status=status, body=text)
    return BadRequest(message, status=status, body=text)


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0
