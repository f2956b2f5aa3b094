"""The shape Salesforce requires of a user-verification key: "required properties:
kty, kid, alg, x5c", ``x5c`` a base64-encoded public certificate that "must be valid
for at least 10 days". [src: Help "Troubleshooting User Verification",
https://help.salesforce.com/apex/HTViewHelpDoc?id=service.user_verification_troubleshooting.htm]

The page states it for uploaded keys; that a keyset's endpoint URL is held to the
same is UNCONFIRMED. The emulator applies it to the key that signed the token, so a
JWKS that passes here passes either way.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

REQUIRED = ("kty", "kid", "alg", "x5c")
CERTIFICATE_MARGIN = timedelta(days=10)


def key_problem(document: Any, kid: str | None, alg: str, now: float) -> str | None:
    """Why the JWKS key named ``kid`` cannot verify a token signed with ``alg``;
    None when it can."""
    keys = document.get("keys") if isinstance(document, dict) else None
    found = [k for k in keys or [] if isinstance(k, dict) and k.get("kid") == kid]
    if not found:
        return f"no key with kid {kid!r} in the keyset"
    jwk = found[0]
    missing = [name for name in REQUIRED if name not in jwk]
    if missing:
        return f"key {kid}: missing {', '.join(missing)}"
    if jwk["kty"] != "RSA" or jwk["alg"] != alg:
        return f"key {kid}: kty RSA and alg {alg} expected"
    chain = jwk["x5c"]
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        return f"key {kid}: x5c must list the base64-encoded public certificate"
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    except (ValueError, binascii.Error):
        return f"key {kid}: x5c is not a base64-encoded certificate"
    public = certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey) or _numbers(jwk) != (
        public.public_numbers().n,
        public.public_numbers().e,
    ):
        return f"key {kid}: the certificate does not hold the key's n and e"
    if certificate.not_valid_after_utc < datetime.fromtimestamp(now, UTC) + CERTIFICATE_MARGIN:
        return f"key {kid}: the certificate must be valid for at least 10 more days"
    return None


def _numbers(jwk: dict[str, Any]) -> tuple[int, int] | None:
    try:
        return _int(jwk["n"]), _int(jwk["e"])
    except (KeyError, ValueError, TypeError, binascii.Error):
        return None


def _int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
