"""The plugin's identity keys for verified users: an RSA key of its own, the
identity JWTs it signs for a contact, and the JWKS document of its public keys that
Salesforce fetches from the keyset's endpoint URL.

Identity JWT: RS256 or RS512, header ``{"alg", "typ": "JWT", "kid"}``, claims
``iss`` (equal to the keyset's "JSON web key issuer"), ``sub``, ``exp`` (its lifetime
is the signer's choice), ``iat``. [src: MIAW.md §2; user verification
https://developer.salesforce.com/docs/service/messaging-web/guide/user-verification.html;
Salesforce's key-command-line-utility; Help service.miaw_token_based_user_verification_setup.htm]
``aud`` (the My Domain URL) is UNCONFIRMED: sent only when given.

Each public key carries ``alg`` and ``x5c`` (a self-signed certificate of the key):
Salesforce requires "kty, kid, alg, x5c" of a key, the certificate "valid for at
least 10 days" [src: Help service.user_verification_troubleshooting.htm, stated for
uploaded keys; for an endpoint URL UNCONFIRMED, so the plugin always sends them].
The certificate is built the same way from the same key and kid, so every host
instance serves the same JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import RSAKey

ALGORITHMS = ("RS256", "RS512")
MIN_KEY_BITS = 2048  # "RSA private key ≥2048-bit" (MIAW.md §8.8)
DEFAULT_LIFETIME = 300.0  # seconds: the token is exchanged at once
# The certificate's validity: fixed, so the same key always gives the same one.
CERTIFICATE_FROM = datetime(2025, 1, 1, tzinfo=UTC)
CERTIFICATE_UNTIL = datetime(2125, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class IdentityKey:
    """One RSA key pair with its key id."""

    key: RSAKey
    kid: str

    @classmethod
    def generate(cls, kid: str, bits: int = MIN_KEY_BITS) -> IdentityKey:
        if bits < MIN_KEY_BITS:
            raise ValueError(f"an RSA key of at least {MIN_KEY_BITS} bits")
        return cls(RSAKey.generate_key(bits, parameters={"kid": kid}), kid)

    @classmethod
    def from_pem(cls, pem: str | bytes, kid: str) -> IdentityKey:
        """A private key in PEM (PKCS#1 or PKCS#8), as an admin stores it."""
        key = RSAKey.import_key(pem, parameters={"kid": kid})
        if not key.is_private:
            raise ValueError("a private RSA key is needed to sign identity tokens")
        bits = key.private_key.key_size if key.private_key is not None else 0
        if bits < MIN_KEY_BITS:
            raise ValueError(f"the RSA key has {bits} bits; at least {MIN_KEY_BITS} are needed")
        return cls(key, kid)

    def private_pem(self) -> str:
        return self.key.as_pem(private=True).decode()

    def public_jwk(self, algorithm: str = "RS256") -> dict[str, Any]:
        jwk = dict(self.key.as_dict(private=False))
        jwk.update({"kid": self.kid, "use": "sig", "alg": algorithm, "x5c": [self.certificate()]})
        return jwk

    def certificate(self) -> str:
        """The key's self-signed X.509 certificate, DER in standard base64 (RFC 7517
        ``x5c``). RSA PKCS#1 v1.5 signatures are deterministic: same key, same
        certificate."""
        private = self.key.private_key
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ValueError("a private RSA key is needed to make the certificate")
        public_der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        serial = int.from_bytes(hashlib.sha256(self.kid.encode() + public_der).digest()[:19], "big")
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"opencx-salesforce {self.kid}")])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private.public_key())
            .serial_number(serial or 1)
            .not_valid_before(CERTIFICATE_FROM)
            .not_valid_after(CERTIFICATE_UNTIL)
            .sign(private, hashes.SHA256())
        )
        return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


class IdentitySigner:
    """Signs identity JWTs with the current key; serves every key it knows in the
    JWKS (the current one and those being rotated out) so a token signed just
    before a rotation still verifies."""

    def __init__(
        self,
        current: IdentityKey,
        issuer: str,
        *,
        retired: Sequence[IdentityKey] = (),
        algorithm: str = "RS256",
        audience: str | None = None,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm: one of {', '.join(ALGORITHMS)}")
        if not issuer:
            raise ValueError("issuer: the keyset's JSON web key issuer is required")
        self.current = current
        self.retired = tuple(retired)
        self.issuer = issuer
        self.algorithm = algorithm
        self.audience = audience

    def sign(
        self, subject: str, *, lifetime: float = DEFAULT_LIFETIME, now: float | None = None
    ) -> str:
        """An identity JWT for the contact ``subject`` (a stable id of the contact)."""
        if not subject:
            raise ValueError("subject: the contact's stable id is required")
        issued = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "iat": issued,
            "exp": issued + int(lifetime),
        }
        if self.audience:
            claims["aud"] = self.audience
        header = {"alg": self.algorithm, "typ": "JWT", "kid": self.current.kid}
        return jwt.encode(header, claims, self.current.key, algorithms=[self.algorithm])

    def jwks(self) -> dict[str, Any]:
        """The JWKS document: public keys only, served at a route under the plugin's
        prefix for the keyset's endpoint URL."""
        keys = (self.current, *self.retired)
        return {"keys": [key.public_jwk(self.algorithm) for key in keys]}
