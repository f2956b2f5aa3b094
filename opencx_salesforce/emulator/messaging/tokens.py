"""Enhanced Chat access tokens: minted for a guest or for a verified user, checked
on every conversation call and on the event stream.

An access token is a JWT [src: Authorization, https://developer.salesforce.com/docs/
service/messaging-api/guide/authorization.html]; its claims here (``sub``,
``clientId``, ``orgId``, ``esDeveloperName``, ``exp``) are the emulator's own, except
that a client may read ``exp`` (guest lifetime is undocumented, MIAW.md §2). Signed
with a key of the emulator's own (HS256): only the emulator checks it.

A verified user's token is minted from an identity JWT the client signs (RS256 or
RS512, ``kid`` in the header, ``iss``/``sub``/``exp`` claims), checked against the
keyset the deployment is configured with: a JWKS fetched from its endpoint URL,
``iss`` equal to the keyset's issuer. [src: MIAW.md §2; user verification
https://developer.salesforce.com/docs/service/messaging-web/guide/user-verification.html;
Help service.miaw_token_based_user_verification_setup.htm]
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey

from opencx_salesforce.emulator.messaging.deployment import Deployment
from opencx_salesforce.emulator.messaging.jwk_format import key_problem

IDENTITY_ALGORITHMS = ("RS256", "RS512")


class TokenError(Exception):
    """The token or identity JWT is refused; ``status`` is the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Grant:
    """What an access token stands for."""

    token_id: str
    subject: str  # the end user: the same across continuation tokens
    client_id: str  # new with each continuation token
    org_id: str
    deployment: str
    expires_at: float
    verified: bool


def guest_subject() -> str:
    # v2/iamessage/UNAUTH/NA/uid:{uuid}, as a guest's messages carry it in the
    # official sample app's example.json (Salesforce-Async-Messaging/
    # messaging-web-api-sample-app); public client code's .../ANON/{id} is not it.
    return f"v2/iamessage/UNAUTH/NA/uid:{uuid.uuid4()}"


def verified_subject(keyset: str, sub: str) -> str:
    # v2/iamessage/AUTH/{keyset}/uid:{sub} (public client code, UNCONFIRMED, MIAW.md §2)
    return f"v2/iamessage/AUTH/{keyset}/uid:{sub}"


class AccessTokens:
    def __init__(self) -> None:
        self._key = OctKey.import_key(secrets.token_bytes(32))
        self._grants: dict[str, Grant] = {}

    def mint(
        self,
        *,
        subject: str,
        org_id: str,
        deployment: str,
        now: float,
        lifetime: float,
        verified: bool,
        expires_at: float | None = None,
    ) -> tuple[str, Grant]:
        grant = Grant(
            token_id=str(uuid.uuid4()),
            subject=subject,
            client_id=str(uuid.uuid4()),
            org_id=org_id,
            deployment=deployment,
            expires_at=expires_at if expires_at is not None else now + lifetime,
            verified=verified,
        )
        self._grants[grant.token_id] = grant
        claims = {
            "jti": grant.token_id,
            "sub": subject,
            "clientId": grant.client_id,
            "orgId": org_id,
            "esDeveloperName": deployment,
            "iat": int(now),
            "exp": int(grant.expires_at),
        }
        return jwt.encode({"alg": "HS256"}, claims, self._key), grant

    def check(self, authorization: str | None, now: float) -> Grant:
        """The grant of ``Authorization: Bearer <token>``; 401 when missing,
        unknown, revoked or expired (the sample drops its token on 401, MIAW.md §2)."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise TokenError(401, "UNAUTHORIZED", "Authorization: Bearer <accessToken> required")
        try:
            claims = jwt.decode(value.strip(), self._key, algorithms=["HS256"]).claims
        except (JoseError, ValueError):
            raise TokenError(401, "UNAUTHORIZED", "invalid access token") from None
        grant = self._grants.get(str(claims.get("jti")))
        if grant is None:
            raise TokenError(401, "UNAUTHORIZED", "access token revoked or unknown")
        if now >= grant.expires_at:
            raise TokenError(401, "UNAUTHORIZED", "access token expired")
        return grant

    def org_of(self, authorization: str | None) -> str | None:
        """The org Id of a token this emulator minted, expired or not (None:
        not one of its tokens); for what happens before the route checks it."""
        value = (authorization or "").partition(" ")[2].strip()
        try:
            claims = jwt.decode(value, self._key, algorithms=["HS256"]).claims
        except (JoseError, ValueError):
            return None
        grant = self._grants.get(str(claims.get("jti")))
        return grant.org_id if grant is not None else None

    def revoke(self, grant: Grant) -> None:
        self._grants.pop(grant.token_id, None)

    def expire(self, subject: str) -> None:
        """Emulator control: every token of ``subject`` expires now."""
        for token_id, grant in list(self._grants.items()):
            if grant.subject == subject:
                self._grants[token_id] = _expired(grant)


def _expired(grant: Grant) -> Grant:
    return Grant(
        grant.token_id,
        grant.subject,
        grant.client_id,
        grant.org_id,
        grant.deployment,
        0.0,
        grant.verified,
    )


async def fetch_jwks(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """The keyset "hosted outside of Salesforce" at the deployment's endpoint URL."""
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
            if response.status != 200:
                raise TokenError(401, "UNAUTHORIZED", f"JWKS endpoint answered {response.status}")
            document: Any = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise TokenError(401, "UNAUTHORIZED", f"JWKS endpoint unreachable: {error}") from None
    if not isinstance(document, dict):
        raise TokenError(401, "UNAUTHORIZED", "JWKS endpoint served no key set")
    return document


def verify_identity(
    token: str, document: dict[str, Any], deployment: Deployment, now: float
) -> str:
    """The identity JWT's ``sub`` once its key's shape, its signature, ``iss`` and
    ``exp`` hold."""
    try:
        keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        decoded = jwt.decode(token, keys, algorithms=list(IDENTITY_ALGORITHMS))
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise TokenError(401, "UNAUTHORIZED", f"identity token not verified: {error}") from None
    problem = key_problem(document, decoded.header.get("kid"), decoded.header["alg"], now)
    if problem is not None:
        raise TokenError(401, "UNAUTHORIZED", f"identity token refused: {problem}")
    registry = jwt.JWTClaimsRegistry(
        now=int(now),
        iss={"essential": True, "value": deployment.issuer or ""},
        sub={"essential": True},
        exp={"essential": True},
    )
    try:
        registry.validate(decoded.claims)
    except JoseError as error:
        raise TokenError(401, "UNAUTHORIZED", f"identity token refused: {error}") from None
    return str(decoded.claims["sub"])
