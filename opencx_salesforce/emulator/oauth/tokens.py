"""The strings the authorization server hands out, shaped like Salesforce's, and
the two computations clients check: the response signature and PKCE.

Shapes follow recorded responses: an access token is the 15-character org Id, an
exclamation mark and an opaque tail (``00D7F0000001I8v!ARgAQ...``); a refresh token
starts ``5Aep861``; an authorization code starts ``aPrx`` and ends ``==``, so it
needs URL-encoding on the callback. [src: public recordings of Salesforce token
responses, e.g. netologist/apache-oltu-oauth2-provider-demo issue 11; SALESFORCE.md §1]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

_TAIL_ALPHABET = string.ascii_letters + string.digits + "._"


def _tail(length: int) -> str:
    return "".join(secrets.choice(_TAIL_ALPHABET) for _ in range(length))


def new_access_token(org_id: str) -> str:
    return f"{org_id[:15]}!{_tail(96)}"


def new_refresh_token() -> str:
    return "5Aep861" + _tail(80)


def new_authorization_code() -> str:
    return "aPrx" + secrets.token_urlsafe(60).replace("-", "x").replace("_", "y") + "=="


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def new_request_id() -> str:
    return secrets.token_urlsafe(16)


def signature(client_secret: str, identity_url: str, issued_at: str) -> str:
    """Base64 HMAC-SHA256 of ``id + issued_at`` keyed with the consumer secret, so a
    client can check the response was not tampered with.
    [src: api_rest intro_understanding_web_server_oauth_flow.htm "signature"]"""
    digest = hmac.new(
        client_secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def issued_at_ms(seconds: float) -> str:
    """``issued_at`` is milliseconds since the epoch, as a string (the examples are
    13 digits though the text says seconds). [src: SALESFORCE.md §1]"""
    return str(int(seconds * 1000))


def s256(code_verifier: str) -> str:
    """The code challenge a verifier answers: base64url(SHA-256(verifier)) without
    padding. Salesforce documents only this method. [src: api_rest
    intro_understanding_web_server_oauth_flow.htm code_challenge; RFC 7636 §4.2]"""
    digest = hashlib.sha256(code_verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def same(a: str, b: str) -> bool:
    """Constant-time comparison for secrets and challenges."""
    return hmac.compare_digest(a.encode(), b.encode())
