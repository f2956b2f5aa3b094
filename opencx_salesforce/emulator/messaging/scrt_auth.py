"""The access-token endpoints of the Enhanced Chat API.

``POST /iamessage/api/v2/authorization/unauthenticated/access-token`` (guest),
``POST .../authorization/authenticated/access-token`` (verified user, with an
identity JWT), ``GET .../authorization/continuation-access-token`` ("a JWT with the
same subjectId but new clientId"), and ``DELETE .../authenticated/access-token``
(revoke; public client code, UNCONFIRMED).
[src: MIAW.md §2; API reference ?meta=generateAccessTokenForUnauthenticatedUser,
?meta=generateAccessTokenForAuthenticatedUser, ?meta=generateContinuationToken]
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from opencx_salesforce.emulator.messaging.deployment import API_NAME, CUSTOM_CLIENT, Deployment
from opencx_salesforce.emulator.messaging.http_errors import (
    ScrtError,
    bad_request,
    json_body,
    text_field,
)
from opencx_salesforce.emulator.messaging.side import MessagingSide, OrgMessaging
from opencx_salesforce.emulator.messaging.tokens import (
    Grant,
    TokenError,
    fetch_jwks,
    guest_subject,
    verified_subject,
    verify_identity,
)

AUTH = "/iamessage/api/v2/authorization"


class TokenRoutes:
    def __init__(self, side: MessagingSide) -> None:
        self.side = side

    def add_to(self, app: web.Application) -> None:
        app.router.add_post(f"{AUTH}/unauthenticated/access-token", self.guest)
        app.router.add_post(f"{AUTH}/authenticated/access-token", self.verified)
        app.router.add_delete(f"{AUTH}/authenticated/access-token", self.revoke)
        app.router.add_get(f"{AUTH}/continuation-access-token", self.continuation)

    async def guest(self, request: web.Request) -> web.Response:
        try:
            body = await json_body(request)
            org, deployment = self._deployment(body)
            if not deployment.allow_guests:
                raise ScrtError(401, "UNAUTHORIZED", "user verification is on: guests are refused")
            return self._answer(body, org, deployment, guest_subject(), verified=False)
        except ScrtError as error:
            return error.response()

    async def verified(self, request: web.Request) -> web.Response:
        try:
            body = await json_body(request)
            org, deployment = self._deployment(body)
            if body.get("authorizationType") != "JWT":
                raise bad_request('authorizationType: expected "JWT"')
            identity = text_field(body, "customerIdentityToken")
            assert identity is not None
            if deployment.jwks_url is None:
                raise ScrtError(401, "UNAUTHORIZED", "user verification is not set up")
            now = self.side.state.clock.now()
            try:
                document = await fetch_jwks(self.side.http(), deployment.jwks_url)
                sub = verify_identity(identity, document, deployment, now)
            except TokenError as error:
                if not deployment.silent_guest_fallback:
                    raise ScrtError(error.status, error.code, str(error)) from None
                return self._answer(body, org, deployment, guest_subject(), verified=False)
            subject = verified_subject(deployment.keyset_name, sub)
            return self._answer(body, org, deployment, subject, verified=True)
        except ScrtError as error:
            return error.response()

    async def revoke(self, request: web.Request) -> web.Response:
        try:
            grant = self.grant(request)
        except ScrtError as error:
            return error.response()
        self.side.tokens.revoke(grant)
        return web.Response(status=204)

    async def continuation(self, request: web.Request) -> web.Response:
        """Same subject, new client id; the expiry stays (public client code,
        UNCONFIRMED: "It does not extend expiry", MIAW.md §2)."""
        try:
            grant = self.grant(request)
        except ScrtError as error:
            return error.response()
        token, _ = self.side.tokens.mint(
            subject=grant.subject,
            org_id=grant.org_id,
            deployment=grant.deployment,
            now=self.side.state.clock.now(),
            lifetime=0,
            verified=grant.verified,
            expires_at=grant.expires_at,
        )
        return web.json_response(
            {"accessToken": token, "lastEventId": str(self.side.events.last_id)}
        )

    def grant(self, request: web.Request) -> Grant:
        try:
            return self.side.tokens.check(
                request.headers.get("Authorization"), self.side.state.clock.now()
            )
        except TokenError as error:
            raise ScrtError(error.status, error.code, str(error)) from None

    # --- the pieces ---------------------------------------------------------------------------

    def _deployment(self, body: dict[str, Any]) -> tuple[OrgMessaging, Deployment]:
        org_id = text_field(body, "orgId")
        name = text_field(body, "esDeveloperName")
        assert org_id is not None and name is not None
        text_field(body, "capabilitiesVersion")
        text_field(body, "platform")
        if not API_NAME.match(name):
            raise bad_request(
                "esDeveloperName: letters, digits and underscores, starting with a letter"
            )
        org = self.side.org_by_id(org_id)
        if org is None:
            raise bad_request(f"orgId: no org {org_id}")
        deployment = org.deployments.get(name)
        if deployment is None:
            raise bad_request(f"esDeveloperName: no Embedded Service deployment {name}")
        wait = self.side.token_allowed(org)
        if wait is not None:
            raise ScrtError(
                429,
                "TOO_MANY_REQUESTS",
                "access token requests limited to 200 a minute for the org",
                {"Retry-After": str(int(wait + 0.999))},
            )
        if deployment.deployment_type != CUSTOM_CLIENT:
            # The API serves Custom Client deployments only [src: MIAW.md §2, ref];
            # status and wording UNCONFIRMED.
            raise bad_request(
                f"esDeveloperName: {name} is not a Custom Client deployment "
                f"(deploymentType {deployment.deployment_type!r})"
            )
        return org, deployment

    def _answer(
        self,
        body: dict[str, Any],
        org: OrgMessaging,
        deployment: Deployment,
        subject: str,
        *,
        verified: bool,
    ) -> web.Response:
        lifetime = deployment.verified_token_seconds if verified else deployment.guest_token_seconds
        token, _ = self.side.tokens.mint(
            subject=subject,
            org_id=org.org.id,
            deployment=deployment.api_name,
            now=self.side.state.clock.now(),
            lifetime=lifetime,
            verified=verified,
        )
        device_id = body.get("deviceId") if isinstance(body.get("deviceId"), str) else None
        # accessToken, lastEventId and deploymentType are in the reference; the rest
        # of the context is public client code (UNCONFIRMED, MIAW.md §2).
        return web.json_response(
            {
                "accessToken": token,
                "lastEventId": str(self.side.events.last_id),
                "context": {
                    "endUser": {"subject": subject},
                    "deviceId": device_id or str(uuid.uuid4()),
                    "configuration": {
                        "embeddedServiceConfig": {
                            "name": deployment.api_name,
                            "deploymentType": deployment.deployment_type,
                            "embeddedServiceMessagingChannel": {
                                "channelAddressIdentifier": deployment.channel_address_id,
                                "authMode": "Auth" if verified else "UnAuth",
                            },
                        }
                    },
                },
            }
        )
