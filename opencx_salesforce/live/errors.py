"""What can go wrong talking to the Enhanced Chat API, as exceptions a caller can
act on. The API's error bodies are undocumented (MIAW.md §7): each exception keeps
the status and the raw text for the log."""

from __future__ import annotations


class LiveError(Exception):
    """Any failure of a call to the SCRT endpoints."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ScrtUnavailable(LiveError):
    """No answer (connection refused, timeout) or a 5xx: retry later."""


class BadRequest(LiveError):
    """400/404/409/415: the request itself is wrong; retrying will not help."""


class Unauthorized(LiveError):
    """401: the access token is expired, revoked or invalid. For a guest this ends
    the handoff (a new guest token is a new end user, MIAW.md §2); a verified user
    can get a new token with a fresh identity JWT."""


class Forbidden(LiveError):
    """403: the conversation belongs to another end user (UNCONFIRMED, MIAW.md §2)."""


class RateLimited(LiveError):
    """429 (or 503 with Retry-After): wait ``retry_after`` seconds and send again
    (status when limited UNCONFIRMED, MIAW.md §6)."""

    def __init__(self, message: str, *, retry_after: float, status: int, body: str = "") -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


class VerificationFailed(LiveError):
    """The verified-user exchange gave a guest token (no ``/AUTH/`` in its
    subject): the identity JWT was not accepted (UNCONFIRMED, MIAW.md §2)."""
